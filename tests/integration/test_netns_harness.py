# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The namespace SSH test hosts behave like a small cluster: Ansible, host-to-host SSH, faults, MPI."""
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time

import pytest

from ansible_collections.mlperf.storage.plugins.module_utils._mpi import (
    build_mpi_command,
    detect_mpi,
    hostfile_text,
    launcher_env,
)
from harness.netns import PREFIX, STATE_DIR, HarnessError, NetnsHosts, cleanup_stale

pytestmark = pytest.mark.multihost

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TESTS = os.path.join(REPO, "tests")
ENGINE_VENV = os.environ.get("MLPERF_ENGINE_VENV")  # default: the embedded environment (embedded_env fixture)
DEBIAN_OPENMPI = "/usr/bin/mpirun.openmpi"
ALLREDUCE = (
    "import os; from mpi4py import MPI; comm = MPI.COMM_WORLD; "
    "total = comm.allreduce(comm.rank + 1); "
    "print('rank=%d host=%s total=%d mark=%s' % (comm.rank, MPI.Get_processor_name(), total, "
    "os.environ.get('MLPERF_TEST_MARK')), flush=True)"
)
# each rank prints its host and a variable that only the launcher's forwarding can give it
SHOW_MARK = ["sh", "-c", 'echo "$(hostname) $MLPERF_TEST_MARK"']


def ansible_bin():
    for candidate in (os.path.join(os.path.dirname(sys.executable), "ansible"), "/tmp/ctlvenv/bin/ansible"):
        if os.access(candidate, os.X_OK):
            return candidate
    pytest.skip("ansible CLI not found next to %s nor in /tmp/ctlvenv/bin" % sys.executable)


def run_ansible(harness, tmp_path, pattern, module, args=None, timeout=10, options=()):
    """Ad-hoc ansible against the harness inventory; returns {host: result dict} from the tree callback."""
    tree = tmp_path / ("tree-%d" % time.monotonic_ns())
    argv = [ansible_bin(), "-i", harness.inventory_path, pattern, "-m", module, "-T", str(timeout)] + list(options)
    if args:
        argv += ["-a", args]
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
               ANSIBLE_CALLBACKS_ENABLED="ansible.builtin.tree", ANSIBLE_CALLBACK_TREE_DIR=str(tree))
    proc = subprocess.run(argv, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          timeout=180)
    results = {}
    if tree.is_dir():
        for entry in tree.iterdir():
            results[entry.name] = json.loads(entry.read_text())
    assert results, "ansible produced no per-host results:\n%s\n%s" % (proc.stdout, proc.stderr)
    return results


def ssh_ok(harness, host, command, timeout=60):
    proc = harness.ssh(host, command, timeout=timeout)
    assert proc.returncode == 0, "%s on %s failed (%d): %s" % (command, host, proc.returncode, proc.stderr)
    return proc.stdout


@pytest.fixture
def engine_venv_mpich(request):
    """mpirun and python of an environment with the MPICH wheel: MLPERF_ENGINE_VENV, else the embedded one
    (provisioned by the embedded_env fixture, so the tests run on a fresh machine too)."""
    venv = ENGINE_VENV or request.getfixturevalue("embedded_env")
    mpirun = os.path.join(venv, "bin", "mpirun")
    python = os.path.join(venv, "bin", "python")
    if not (os.access(mpirun, os.X_OK) and os.access(python, os.X_OK)):
        pytest.fail("engine venv with the mpich wheel not found at %s (MLPERF_ENGINE_VENV)" % venv)
    return mpirun, python


def launcher_implementation(harness, mpirun):
    detected = detect_mpi(ssh_ok(harness, "node1", shlex.quote(mpirun) + " --version 2>&1"))
    assert detected["implementation"] != "unknown", "could not tell which MPI %s is" % mpirun
    return detected["implementation"]


# --- Ansible and SSH ---------------------------------------------------------------------------


def test_ansible_pings_every_host_over_ssh_and_sees_distinct_hostnames(netns_hosts, tmp_path):
    harness = netns_hosts(n=3)
    pings = run_ansible(harness, tmp_path, "clients", "ping")
    assert {host: result.get("ping") for host, result in pings.items()} == {
        "node1": "pong", "node2": "pong", "node3": "pong"}
    names = run_ansible(harness, tmp_path, "clients", "command", "hostname")
    assert {host: result["stdout"] for host, result in names.items()} == {
        "node1": "node1", "node2": "node2", "node3": "node3"}


def test_hosts_reach_each_other_by_name_and_address(netns_hosts):
    harness = netns_hosts(n=3)
    node3 = harness.host("node3")
    assert ssh_ok(harness, "node1", "ssh node2 hostname; ssh node3 hostname; ssh %s hostname" % node3.address) \
        == "node2\nnode3\nnode3\n"
    assert ssh_ok(harness, "node3", "ssh node1 hostname") == "node1\n"
    # names resolve through each host's own /etc/hosts, to the harness addresses
    assert ssh_ok(harness, "node2", "getent hosts node3").split()[0] == node3.address


def test_unknown_host_keys_are_refused(netns_hosts):
    harness = netns_hosts(n=1)
    argv = harness.ssh_argv("node1", "true")
    argv[1:1] = ["-o", "UserKnownHostsFile=/dev/null"]  # drop the pinned keys: strict checking must refuse
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=30)
    assert proc.returncode != 0
    assert "Host key verification failed" in proc.stderr


def test_cut_makes_a_host_unreachable_and_restore_brings_it_back(netns_hosts, tmp_path):
    harness = netns_hosts(n=3)
    assert len(run_ansible(harness, tmp_path, "clients", "ping")) == 3  # leaves persisted SSH masters behind
    harness.cut("node2")
    results = run_ansible(harness, tmp_path, "clients", "ping", timeout=3)
    assert results["node2"].get("unreachable") is True
    assert results["node1"].get("ping") == results["node3"].get("ping") == "pong"
    assert harness.ssh("node1", "ssh -o ConnectTimeout=2 node2 true").returncode == 255
    harness.restore("node2")
    results = run_ansible(harness, tmp_path, "clients", "ping")
    assert {host: result.get("ping") for host, result in results.items()} == {
        "node1": "pong", "node2": "pong", "node3": "pong"}
    assert ssh_ok(harness, "node1", "ssh node2 hostname") == "node2\n"


# --- data directories --------------------------------------------------------------------------


def test_shared_data_dir_shows_the_same_files_on_every_host(netns_hosts):
    harness = netns_hosts(n=2, shared_data=True)
    path = os.path.join(harness.data_dir, "probe")
    ssh_ok(harness, "node1", "echo written-by-node1 > %s" % path)
    assert ssh_ok(harness, "node2", "cat %s" % path) == "written-by-node1\n"


def test_unshared_data_dir_shows_each_host_its_own_files(netns_hosts):
    harness = netns_hosts(n=2, shared_data=False)
    path = os.path.join(harness.data_dir, "probe")
    ssh_ok(harness, "node1", "echo written-by-node1 > %s" % path)
    assert harness.ssh("node2", "cat %s" % path).returncode != 0  # same path, different directory
    ssh_ok(harness, "node2", "echo written-by-node2 > %s" % path)
    assert ssh_ok(harness, "node1", "cat %s" % path) == "written-by-node1\n"
    with open(os.path.join(harness.host("node2").data_source, "probe")) as handle:
        assert handle.read() == "written-by-node2\n"
    assert not os.path.exists(path)  # the controller's view of the path is a third, empty directory
    inside = subprocess.run(harness.exec_argv("node2", ["sh", "-c", "hostname; cat %s" % path]),
                            stdout=subprocess.PIPE, text=True, timeout=30)
    assert inside.stdout == "node2\nwritten-by-node2\n"  # nsenter sees the host's own mounts and name


# --- lifecycle ---------------------------------------------------------------------------------


def harness_leftovers(tag, work_dir):
    """Everything of harness ``tag`` still on the machine."""
    names = subprocess.run(["ip", "-o", "link", "show"], stdout=subprocess.PIPE, text=True).stdout
    namespaces = subprocess.run(["ip", "netns", "list"], stdout=subprocess.PIPE, text=True).stdout
    mine = "%s%s" % (PREFIX, tag)
    leftovers = [word.split("@")[0].rstrip(":") for word in (names + namespaces).split()
                 if word.startswith(mine + "n") or word.startswith(mine + "v") or word.startswith(mine + "br")]
    processes = subprocess.run(["ps", "-eo", "pid,args"], stdout=subprocess.PIPE, text=True).stdout
    leftovers += [line for line in processes.splitlines() if work_dir in line]
    if os.path.exists(work_dir):
        leftovers.append(work_dir)
    if os.path.exists(os.path.join(STATE_DIR, tag + ".json")):
        leftovers.append("state file")
    return leftovers


def test_teardown_leaves_nothing_and_is_idempotent():
    harness = NetnsHosts(n=3)
    with harness:
        tag, work_dir = harness.tag, harness.work_dir
        ssh_ok(harness, "node1", "ssh node2 true")
        assert len(harness_leftovers(tag, work_dir)) >= 7  # 3 namespaces, 3 veths, bridge, sshds, dir
    assert harness_leftovers(tag, work_dir) == []
    harness.close()


def test_cleanup_stale_removes_a_crashed_run_and_spares_a_live_one(netns_hosts):
    live = netns_hosts(n=1)
    code = ("import sys, time; sys.path.insert(0, %r); from harness.netns import NetnsHosts; "
            "h = NetnsHosts(n=2).start(); print(h.tag, h.work_dir, flush=True); time.sleep(300)" % TESTS)
    crashed = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        tag, work_dir = crashed.stdout.readline().split()
    finally:
        crashed.send_signal(signal.SIGKILL)  # no teardown runs
        crashed.wait()
    assert len(harness_leftovers(tag, work_dir)) >= 5
    removed = cleanup_stale()
    assert {"%s%sn1" % (PREFIX, tag), "%s%sn2" % (PREFIX, tag), "%s%sbr" % (PREFIX, tag)} <= set(removed)
    assert harness_leftovers(tag, work_dir) == []
    assert ssh_ok(live, "node1", "hostname") == "node1\n"  # the live harness was not touched


# --- MPI across the hosts ----------------------------------------------------------------------


def test_mpich_runs_one_rank_per_host_and_allreduces_two_per_host(netns_hosts, engine_venv_mpich):
    mpirun, python = engine_venv_mpich
    harness = netns_hosts(n=3)
    implementation = launcher_implementation(harness, mpirun)
    assert implementation == "mpich"
    names = [host.name for host in harness.hosts]

    one_each = build_mpi_command(implementation, [(name, 1) for name in names], 3, ["hostname"],
                                 mpirun=mpirun, run_as_root=True)
    assert sorted(ssh_ok(harness, "node1", shlex.join(one_each), timeout=120).split()) == names

    two_each = build_mpi_command(implementation, [(name, 2) for name in names], 6, [python, "-c", ALLREDUCE],
                                 mpirun=mpirun, run_as_root=True, env={"MLPERF_TEST_MARK": "1"})
    lines = sorted(ssh_ok(harness, "node1", shlex.join(two_each), timeout=120).split("\n")[:-1])
    # the sshd passes no client environment, so the mark reached the ranks through -genv only
    assert lines == ["rank=%d host=%s total=21 mark=1" % (rank, names[rank // 2]) for rank in range(6)]


def test_mpirun_launched_by_ansible_on_one_host_reaches_the_others(netns_hosts, tmp_path, engine_venv_mpich):
    mpirun, _ = engine_venv_mpich
    harness = netns_hosts(n=3)
    names = [host.name for host in harness.hosts]
    command = build_mpi_command("mpich", [(name, 1) for name in names], 3, ["hostname"], mpirun=mpirun)
    results = run_ansible(harness, tmp_path, "node1", "command", shlex.join(command), timeout=10)
    assert results["node1"]["rc"] == 0, results["node1"]
    assert sorted(results["node1"]["stdout_lines"]) == names


def test_debian_openmpi_runs_one_rank_per_host(netns_hosts):
    if not os.access(DEBIAN_OPENMPI, os.X_OK):
        pytest.skip("Debian Open MPI not installed (apt-get install -y openmpi-bin)")
    harness = netns_hosts(n=3)
    implementation = launcher_implementation(harness, DEBIAN_OPENMPI)
    assert implementation == "openmpi"
    names = [host.name for host in harness.hosts]
    env = {"MLPERF_TEST_MARK": "forwarded"}
    command = build_mpi_command(implementation, [(name, 1) for name in names], 3, SHOW_MARK,
                                mpirun=DEBIAN_OPENMPI, run_as_root=True, env=env)
    # -x forwards names: the values go into the launcher's environment
    exports = " ".join("%s=%s" % (k, shlex.quote(v)) for k, v in launcher_env(implementation, env).items())
    output = ssh_ok(harness, "node1", "env %s %s" % (exports, shlex.join(command)), timeout=120)
    assert sorted(output.splitlines()) == ["%s forwarded" % name for name in names]


@pytest.mark.parametrize("implementation", ["mpich", "openmpi"])
def test_hostfile_of_addresses_places_two_ranks_per_host(netns_hosts, implementation, request):
    if implementation == "mpich":
        mpirun, _ = request.getfixturevalue("engine_venv_mpich")
    elif os.access(DEBIAN_OPENMPI, os.X_OK):
        mpirun = DEBIAN_OPENMPI
    else:
        pytest.skip("Debian Open MPI not installed (apt-get install -y openmpi-bin)")
    harness = netns_hosts(n=3)
    hosts = [(host.address, 2) for host in harness.hosts]
    hostfile = os.path.join(harness.data_dir, "hostfile")
    with open(hostfile, "w") as handle:
        handle.write(hostfile_text(implementation, hosts))
    command = build_mpi_command(implementation, hosts, 6, ["hostname"], mpirun=mpirun, run_as_root=True,
                                hostfile=hostfile)
    assert sorted(ssh_ok(harness, "node1", shlex.join(command), timeout=120).split()) == \
        ["node1", "node1", "node2", "node2", "node3", "node3"]


def test_intelmpi_runs_two_ranks_per_host_when_installed(netns_hosts):
    bin_dir = os.environ.get("MLPERF_TEST_INTELMPI_BIN_DIR", "")
    launcher = os.path.join(bin_dir, "mpiexec.hydra")
    if not (bin_dir and os.access(launcher, os.X_OK)):
        pytest.skip("Intel MPI not configured: set MLPERF_TEST_INTELMPI_BIN_DIR to a bin dir holding "
                    "mpiexec.hydra (e.g. a venv with 'pip install impi-rt')")
    harness = netns_hosts(n=3)
    path = "PATH=%s:$PATH " % shlex.quote(bin_dir)  # Intel's launcher finds its bootstrap proxy on PATH
    implementation = detect_mpi(ssh_ok(harness, "node1", path + shlex.quote(launcher) + " --version 2>&1"))
    assert implementation["implementation"] == "intelmpi"
    names = [host.name for host in harness.hosts]
    command = build_mpi_command("intelmpi", [(name, 2) for name in names], 6, ["hostname"], mpirun=launcher,
                                run_as_root=True)
    assert sorted(ssh_ok(harness, "node1", path + shlex.join(command), timeout=120).split()) == \
        sorted(names * 2)


# --- ops mode: names that resolve nowhere, sshd on 2222, a non-root user with sudo ---------------


def controller_resolves(name):
    return subprocess.run(["getent", "hosts", name], stdout=subprocess.PIPE, timeout=30).returncode == 0


def test_ops_inventory_names_resolve_nowhere_but_hostnames_resolve_inside(netns_hosts):
    harness = netns_hosts(n=3, ops=True)
    clients = harness.inventory()["all"]["children"]["clients"]
    assert sorted(clients["hosts"]) == ["opsnode1", "opsnode2", "opsnode3"]
    for host in harness.hosts:
        assert clients["hosts"][host.inventory_name] == {"ansible_host": host.address,
                                                         "mlperf_mpi_host": host.address}
    assert not controller_resolves("opsnode2")
    # the controller knows neither name: no /etc/hosts line, no ssh_config alias anywhere
    for path in ("/etc/hosts", harness.hosts_file, harness.ssh_config, harness.known_hosts,
                 os.path.join(harness.work_dir, "ssh_config_hosts")):
        with open(path) as handle:
            assert "opsnode" not in handle.read(), path
    with open(harness.ssh_config) as handle:
        assert "HostName" not in handle.read()
    node2 = harness.host("node2")
    # inside: the inventory name fails, the hostnames (what hydra's proxies call back to) resolve
    assert ssh_ok(harness, "opsnode1", "hostname; getent hosts node2; getent hosts opsnode2 || echo rc=$?").split() \
        == ["node1", node2.address, "node2", "rc=2"]


def test_ops_ssh_as_the_user_on_the_port_from_the_controller_and_between_hosts(netns_hosts):
    harness = netns_hosts(n=3, ops=True)
    assert (harness.user, harness.uid, harness.ssh_port) == ("mlops", 4242, 2222)
    assert ssh_ok(harness, "opsnode2", "hostname; id -un; id -u; id -g; echo $HOME") == \
        "node2\nmlops\n4242\n4242\n%s\n" % harness.home
    # what MPI does: a plain ssh to an address from inside, the port and key from the host's config
    node2, node3 = harness.host("node2"), harness.host("node3")
    assert ssh_ok(harness, "opsnode1", "ssh %s hostname; ssh %s 'id -un'; ssh node3 hostname"
                  % (node2.address, node3.address)) == "node2\nmlops\nnode3\n"
    # root has no way in over SSH, not even with the authorized key
    argv = harness.ssh_argv("node1", "true")
    argv[1:1] = ["-l", "root"]
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=30)
    assert proc.returncode == 255 and "Permission denied" in proc.stderr
    # the account exists inside the hosts only
    assert subprocess.run(["getent", "passwd", "mlops"], stdout=subprocess.PIPE).returncode == 2
    assert ssh_ok(harness, "opsnode3", "getent passwd mlops").startswith("mlops:x:4242:4242:")


def test_ops_sshd_listens_only_on_its_port(netns_hosts):
    harness = netns_hosts(n=2, ops=True)
    for host in harness.hosts:
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((host.address, 22), timeout=5).close()
        with socket.create_connection((host.address, 2222), timeout=5) as conn:
            assert conn.recv(64).startswith(b"SSH-2.0-")
        listening = subprocess.run(harness.exec_argv(host.name, ["ss", "-Hltn"]), stdout=subprocess.PIPE,
                                   text=True, timeout=30, check=True).stdout
        assert [line.split()[3] for line in listening.splitlines()] == ["%s:2222" % host.address]
    # the hosts' own ssh_config carries the port; overriding it to 22 finds nothing
    proc = harness.ssh("node1", "ssh -p 22 %s true" % harness.host("node2").address)
    assert proc.returncode == 255 and "Connection refused" in proc.stderr


def test_ops_user_has_passwordless_sudo_and_owns_the_harness_dirs(netns_hosts):
    harness = netns_hosts(n=2, ops=True, shared_data=False)
    assert ssh_ok(harness, "node1", "sudo -n id -u; sudo -n id -un") == "0\nroot\n"
    sudoers = subprocess.run(harness.exec_argv("node1", ["stat", "-c", "%a %U %G", "/etc/sudoers"]),
                             stdout=subprocess.PIPE, text=True, timeout=30, check=True).stdout
    assert sudoers == "440 root root\n"
    for host in harness.hosts:
        probe = "%s-probe" % host.name
        ssh_ok(harness, host.name, "touch %s/%s %s/%s" % (harness.data_dir, probe, host.work_dir, probe))
        for directory in (host.data_source, host.work_dir):
            info = os.stat(os.path.join(directory, probe))
            assert (info.st_uid, info.st_gid) == (4242, 4242)
    # the machine's files are untouched: no test user and no sudo rule for it in the real /etc
    with open("/etc/passwd") as passwd, open("/etc/group") as group:
        assert "mlops" not in passwd.read() + group.read()
    if os.path.exists("/etc/sudoers"):
        with open("/etc/sudoers") as handle:
            assert "mlops" not in handle.read()


def test_ops_ansible_pings_as_the_user_and_becomes_root_with_sudo(netns_hosts, tmp_path):
    harness = netns_hosts(n=3, ops=True)
    pings = run_ansible(harness, tmp_path, "clients", "ansible.builtin.ping")
    assert {host: result.get("ping") for host, result in pings.items()} == {
        "opsnode1": "pong", "opsnode2": "pong", "opsnode3": "pong"}
    plain = run_ansible(harness, tmp_path, "clients", "ansible.builtin.command", "id -u")
    assert {host: result["stdout"] for host, result in plain.items()} == dict.fromkeys(pings, "4242")
    became = run_ansible(harness, tmp_path, "clients", "ansible.builtin.command", "id -u", options=["--become"])
    assert {host: result["stdout"] for host, result in became.items()} == dict.fromkeys(pings, "0")
    names = run_ansible(harness, tmp_path, "opsnode2", "ansible.builtin.command", "hostname")
    assert names["opsnode2"]["stdout"] == "node2"


def test_ops_mpich_as_the_user_across_hosts_by_address(netns_hosts, embedded_env):
    mpirun, python = os.path.join(embedded_env, "bin", "mpirun"), os.path.join(embedded_env, "bin", "python")
    harness = netns_hosts(n=3, ops=True)
    addresses = [host.address for host in harness.hosts]
    one_each = build_mpi_command("mpich", [(address, 1) for address in addresses], 3, ["hostname"], mpirun=mpirun)
    assert sorted(ssh_ok(harness, "node1", shlex.join(one_each), timeout=120).split()) == ["node1", "node2", "node3"]
    two_each = build_mpi_command("mpich", [(address, 2) for address in addresses], 6, [python, "-c", ALLREDUCE],
                                 mpirun=mpirun, env={"MLPERF_TEST_MARK": "mlops"})
    lines = sorted(ssh_ok(harness, "node1", shlex.join(two_each), timeout=120).splitlines())
    assert lines == ["rank=%d host=node%d total=21 mark=mlops" % (rank, rank // 2 + 1) for rank in range(6)]


def test_ops_start_refuses_a_user_the_machine_already_has_and_cleans_up():
    harness = NetnsHosts(n=1, user="nobody", uid=4343)
    with pytest.raises(HarnessError, match="user nobody already exists on this machine"):
        harness.start()
    assert harness.tag is not None and harness_leftovers(harness.tag, harness.work_dir) == []


def test_ops_teardown_leaves_nothing(tmp_path):
    harness = NetnsHosts(n=2, ops=True)
    with harness:
        tag, work_dir = harness.tag, harness.work_dir
        assert ssh_ok(harness, "opsnode1", "ssh %s sudo -n true && echo ok" % harness.host("node2").address) \
            == "ok\n"
        assert len(harness_leftovers(tag, work_dir)) >= 6
    assert harness_leftovers(tag, work_dir) == []
    with open("/proc/self/mountinfo") as handle:
        assert work_dir not in handle.read()  # the bind and overlay mounts lived in the hosts' namespaces
