# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Preflight's evaluation of what the clients reported: peers by mlperf_mpi_host and port, checks a benchmark
does not need, directories someone else can write."""
from ansible_collections.mlperf.storage.plugins.plugin_utils import _preflight

GOOD_ENV = {"matches": True}
GOOD_MPI = {"present": True, "implementation": "mpich", "version": "4.3.0"}


def report(host, **extra):
    base = {"host": host, "env": GOOD_ENV, "mpi": GOOD_MPI, "dirs": {}, "memory_mb": 65536, "cores": 32}
    base.update(extra)
    return base


def test_peers_are_reported_by_inventory_name_with_the_mpi_host_and_port_tried():
    peers = {"rack3-b": {"host": "10.40.3.12", "hostname": "10.40.3.12", "port": 2222, "resolves": True,
                         "address": "10.40.3.12", "ssh_ok": False, "error": "ssh exited 255: Connection refused"},
             "rack3-c": {"host": "rack3-c-ib", "hostname": "rack3-c-ib", "port": 22, "resolves": False,
                         "error": "name rack3-c-ib does not resolve: [Errno -2] Name or service not known"}}
    problems = _preflight.evaluate([report("rack3-a", peers=peers), report("rack3-b"), report("rack3-c")],
                                   launcher="rack3-a")
    messages = {p["message"]: p for p in problems}
    ssh = next(m for m in messages if m.startswith("cannot SSH"))
    assert ssh.startswith("cannot SSH to rack3-b (mlperf_mpi_host 10.40.3.12) port 2222 without a prompt")
    assert "Port" in messages[ssh]["fix"] and messages[ssh]["host"] == "rack3-a"
    resolve = next(m for m in messages if m.startswith("cannot resolve"))
    assert resolve.startswith("cannot resolve rack3-c (mlperf_mpi_host rack3-c-ib)")
    assert "mlperf_mpi_host of rack3-c" in messages[resolve]["fix"]


def test_checks_a_benchmark_does_not_need_are_not_evaluated():
    reports = [report("a", env=None, mpi=None, peers={"b": {"resolves": False, "error": "x"}}), report("b")]
    everything = _preflight.evaluate(reports, launcher="a")
    assert {p["check"] for p in everything} >= {"env-lock", "mpi", "ssh"}
    dirs_only = _preflight.evaluate(reports, launcher="a", checks=("dirs",))
    assert not {p["check"] for p in dirs_only} & {"env-lock", "mpi", "ssh"}


def test_directories_someone_else_can_write_are_errors():
    unsafe_env = dict(GOOD_ENV, unsafe_msg="/opt/venv on a: /opt is owned by alice and writable by others")
    problems = _preflight.evaluate(
        [report("a", env=unsafe_env, unsafe_msg="/var/tmp/w on a: /var/tmp/w is owned by bob (mode 0777)")],
        launcher="a")
    checks = {p["check"]: p for p in problems}
    assert checks["env-owner"]["severity"] == "error" and "alice" in checks["env-owner"]["message"]
    assert checks["work_dir-owner"]["severity"] == "error" and "bob" in checks["work_dir-owner"]["message"]
    assert "python_env_trusted_owners" in checks["env-owner"]["fix"]


def test_a_shared_directory_is_judged_by_the_other_clients_sentinels_not_the_launchers_own():
    # the launcher reads its own sentinel too, only to remove it; a missing one says nothing about sharing
    shared = {"data_dir": {"sentinels": {"a": None, "b": "b", "c": "c"}}}
    reports = [report("a", shared=shared), report("b"), report("c")]
    assert not [p for p in _preflight.evaluate(reports, launcher="a") if p["check"].startswith("shared-")]
    shared["data_dir"]["sentinels"]["c"] = None
    (problem,) = [p for p in _preflight.evaluate(reports, launcher="a") if p["check"] == "shared-data_dir"]
    assert problem["host"] == "a" and problem["message"].endswith("written there by c")
