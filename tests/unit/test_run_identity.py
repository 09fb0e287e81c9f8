# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Peers by the name and port MPI really uses; which earlier runs cleanup may act on."""
import json
import shutil

import pytest

from ansible_collections.mlperf.storage.plugins.module_utils import _ssh
from ansible_collections.mlperf.storage.plugins.plugin_utils._earlier_runs import abandoned_run_ids


def test_parse_ssh_g_reads_host_port_and_user():
    text = "user mlops\nhostname 10.231.4.2\nport 2222\naddressfamily any\nhostname ignored\n"
    assert _ssh.parse_ssh_g(text) == {"hostname": "10.231.4.2", "port": 2222, "user": "mlops"}
    assert _ssh.parse_ssh_g("") == {"hostname": None, "port": None, "user": None}


@pytest.mark.skipif(shutil.which("ssh") is None, reason="needs an ssh client (openssh-client), which .ci/run installs")
def test_ssh_target_honours_an_ssh_config(tmp_path):
    config = tmp_path / "ssh_config"
    config.write_text("Host opsnode2\n    HostName 10.231.4.2\n    Port 2222\n    User mlops\n")
    target = _ssh.ssh_target("opsnode2", ssh_args=["-F", str(config)])
    assert (target["hostname"], target["port"], target["user"], target["source"]) == (
        "10.231.4.2", 2222, "mlops", "ssh -G")
    plain = _ssh.ssh_target("10.231.4.3", ssh_args=["-F", "/dev/null"])
    assert (plain["hostname"], plain["port"]) == ("10.231.4.3", 22)


def test_ssh_target_without_a_client_falls_back_to_port_22():
    target = _ssh.ssh_target("node2", ssh_bin="/nonexistent/ssh")
    assert (target["hostname"], target["port"], target["source"]) == ("node2", 22, "default")
    assert "ssh -G node2" in target["error"]


def _run(base, stamp, **metadata):
    leaf = base / stamp
    leaf.mkdir(parents=True)
    (leaf / ("training_%s_metadata.json" % stamp)).write_text(json.dumps(metadata))


def test_abandoned_runs_are_incomplete_runs_with_an_identity(tmp_path):
    base = tmp_path / "training" / "unet3d" / "run"
    _run(base, "20261201_100000", run_id="20261201_100000-aaaaaaaaaaaaaaaa", complete=False)
    _run(base, "20261201_110000", run_id="20261201_110000-bbbbbbbbbbbbbbbb", complete=True)
    _run(base, "20261201_120000", complete=False)  # made before runs had identities: nothing to match
    _run(base, "20261201_130000", run_id="20261201_130000-cccccccccccccccc", complete=False)
    (base / "20261201_140000").mkdir()  # a run still going (no metadata yet), maybe another playbook's
    (base / "20261201_150000").mkdir()
    (base / "20261201_150000" / "training_20261201_150000_metadata.json").write_text("{not json")
    assert abandoned_run_ids(str(base)) == ["20261201_130000-cccccccccccccccc", "20261201_100000-aaaaaaaaaaaaaaaa"]
    assert abandoned_run_ids(str(base), limit=1) == ["20261201_130000-cccccccccccccccc"]
    assert abandoned_run_ids(str(tmp_path / "missing")) == []


def test_mpi_peers_pairs_inventory_names_with_the_name_mpi_uses():
    from ansible_collections.mlperf.storage.plugins.filter.mpi_peers import mpi_peers

    hostvars = {"rack3-a": {"mlperf_mpi_host": "10.40.3.11"}, "rack3-b": {}, "rack3-c": {"mlperf_mpi_host": ""}}
    assert mpi_peers(["rack3-a", "rack3-b", "rack3-c"], hostvars) == [
        {"name": "rack3-a", "host": "10.40.3.11"}, {"name": "rack3-b", "host": "rack3-b"},
        {"name": "rack3-c", "host": "rack3-c"}]


def test_the_abandoned_runs_lookup_reads_every_base(tmp_path):
    from ansible_collections.mlperf.storage.plugins.lookup.abandoned_runs import LookupModule

    for base, stamp in (("a", "20261201_100000"), ("b", "20261201_110000")):
        _run(tmp_path / base, stamp, run_id="%s-%s" % (stamp, "d" * 16), complete=False)
    assert LookupModule().run([str(tmp_path / "a"), str(tmp_path / "b")]) == [
        "20261201_100000-dddddddddddddddd", "20261201_110000-dddddddddddddddd"]
