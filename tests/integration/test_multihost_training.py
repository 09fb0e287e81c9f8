# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The training benchmark across three SSH hosts (network namespaces) with the real DLIO over MPICH/SSH, then a
client lost in the middle of a run, then a rerun after it is back.

One harness for the whole story (each act builds on the previous one and the hosts cost little; DLIO dominates):
1. a clean run: ranks spread one per host, the shared-filesystem probe passes, every host's telemetry and the
   launcher's run directories land in one results tree on the controller, with sha256 manifests verify checks;
2. node3 drops off the network mid-run: the play fails naming node3; the run directory is kept and marked
   incomplete; telemetry of node1 and node2 is collected; no engine process is left on node1/node2; act 1's
   directories are byte-for-byte untouched;
3. node3 is back: the rerun works, and the ranks the lost run left on node3 are gone.
"""
import json
import os
import re
import subprocess
import time

import pytest

from _faultkit import (TINY, check_manifest, engine_processes, finish, metadata, recap, require_engine, run_dirs,
                       run_training, start_playbook, tree_digest, wait_for)

pytestmark = [pytest.mark.multihost, pytest.mark.integration]


def host_vars(harness, tmp_path):
    launcher = str(tmp_path / "launcher_results")
    controller = str(tmp_path / "controller_results")
    for path in (launcher, controller, str(tmp_path / "async")):
        os.makedirs(path, exist_ok=True)
    extra = dict(TINY, mlperf_results_dir=launcher, mlperf_controller_results_dir=controller,
                 mlperf_data_dir=harness.data_dir, mlperf_work_dir=str(tmp_path / "work" / "{{ inventory_hostname }}"),
                 run_phase_peer_lost_after=8)
    for host in harness.hosts:
        os.makedirs(str(tmp_path / "work" / host.name), exist_ok=True)
    return extra, launcher, controller


def test_three_hosts_clean_run_lost_client_and_rerun(netns_hosts, tmp_path):
    require_engine()
    harness = netns_hosts(n=3, shared_data=True)
    extra, launcher, controller = host_vars(harness, tmp_path)

    # --- act 1: a clean run across three hosts --------------------------------------------------------------
    out = run_training(tmp_path, harness.inventory_path, extra, "act1", timeout=900)
    rc = recap(out)
    assert all("failed=0" in rc[h] and "unreachable=0" in rc[h] for h in ("node1", "node2", "node3")), out[-6000:]
    assert "shared" in out.lower()
    [datagen] = run_dirs(launcher, "datagen")
    [run1] = run_dirs(launcher)
    status = json.load(open(os.path.join(run1, ".engine-status.json")))
    argv = status["argv"]
    assert argv[argv.index("-hosts") + 1] == "node1:1,node2:1,node3:1" and argv[argv.index("-n") + 1] == "3"
    # each rank wrote its own output: three ranks on three hosts
    assert sorted(n for n in os.listdir(run1) if n.endswith("_output.json")) == ["0_output.json", "1_output.json",
                                                                                 "2_output.json"]
    ctl_run1 = os.path.join(controller, os.path.relpath(run1, launcher))
    telemetry = sorted(os.listdir(os.path.join(ctl_run1, "telemetry")))
    assert {"node1.jsonl", "node2.jsonl", "node3.jsonl"} <= set(telemetry)
    listed = check_manifest(ctl_run1)  # the controller's copy matches the launcher's manifest
    assert "telemetry/node3.jsonl" in listed and "summary.json" in listed
    assert metadata(ctl_run1)["complete"] is True
    assert "MLPerf Storage rules verification" in out
    # nothing in either results tree is group- or world-writable
    for root in (launcher, controller):
        for dirpath, dirs, files in os.walk(root):
            for name in dirs + files:
                path = os.path.join(dirpath, name)
                assert not os.lstat(path).st_mode & 0o022, "%s is group/world-writable" % path
    before = {d: tree_digest(d) for d in (datagen, run1)}

    # --- act 2: node3 is lost in the middle of the run ---------------------------------------------------------
    proc = start_playbook(tmp_path, harness.inventory_path, extra, "act2")
    log = proc.log_path
    assert wait_for(lambda: "run 1/1: epoch" in open(log).read() or proc.poll() is not None, 400), open(log).read()[-4000:]
    assert proc.poll() is None, open(log).read()[-4000:]
    harness.cut("node3")
    out = finish(proc, 400)
    assert proc.returncode != 0
    assert "lost client(s) node3" in out, out[-6000:]
    assert "run 1/1 failed:" in out and "clients unreachable: node3" in out, out[-6000:]
    run2 = [d for d in run_dirs(launcher) if d != run1]
    assert len(run2) == 1, run_dirs(launcher)
    run2 = run2[0]
    meta = metadata(run2)
    assert meta["complete"] is False and meta["unreachable_clients"] == ["node3"]
    assert any("node3" in reason for reason in meta["incomplete_reasons"])
    ctl_run2 = os.path.join(controller, os.path.relpath(run2, launcher))
    check_manifest(ctl_run2)  # collected to the controller and sealed, though failed
    telemetry = set(os.listdir(os.path.join(ctl_run2, "telemetry")))
    assert {"node1.jsonl", "node2.jsonl"} <= telemetry and "node3.jsonl" not in telemetry
    assert os.path.exists(os.path.join(ctl_run2, "training_run.stderr.log"))
    # no engine process of that run on the reachable hosts (pgrep inside each namespace)
    for host in ("node1", "node2"):
        proc_check = subprocess.run(harness.exec_argv(host, ["pgrep", "-f", run2]),
                                                  capture_output=True, text=True)
        assert proc_check.returncode == 1, "%s still runs %s: %s" % (host, run2, proc_check.stdout)
    assert {d: tree_digest(d) for d in (datagen, run1)} == before

    # --- act 3: node3 is back; the rerun works and clears what the lost run left there ------------------------
    harness.restore("node3")
    out = run_training(tmp_path, harness.inventory_path, extra, "act3", timeout=900)
    rc = recap(out)
    assert all("failed=0" in rc[h] for h in ("node1", "node2", "node3")), out[-6000:]
    assert wait_for(lambda: not engine_processes(run2), 15), engine_processes(run2)
    run3 = [d for d in run_dirs(launcher) if d not in (run1, run2)]
    assert len(run3) == 1 and metadata(run3[0])["complete"] is True
    assert {d: tree_digest(d) for d in (datagen, run1)} == before
    assert os.path.isdir(run2)  # the failed run stays


def test_preflight_names_an_unreachable_client_and_starts_nothing(netns_hosts, tmp_path):
    harness = netns_hosts(n=3, shared_data=True)
    extra, launcher, controller = host_vars(harness, tmp_path)
    harness.cut("node2")
    started = time.time()
    out = run_training(tmp_path, harness.inventory_path, extra, "unreachable", timeout=300)
    assert "Preflight found problems; nothing was started" in out, out[-5000:]
    assert re.search(r"^node2\s+reachable\s+error\s+unreachable: .*10\.231\.\d+\.2", out, re.M), out[-5000:]
    assert "failed=1" in recap(out)["node1"]
    assert os.listdir(launcher) == [] and run_dirs(controller) == []  # nothing started
    assert "Start the engine" not in out
    assert time.time() - started < 240


def test_preflight_rejects_per_host_data_dirs_for_training(netns_hosts, tmp_path):
    harness = netns_hosts(n=3, shared_data=False)
    extra, launcher, _controller = host_vars(harness, tmp_path)
    out = run_training(tmp_path, harness.inventory_path, extra, "local_data", timeout=300)
    assert re.search(r"^node1\s+shared-data_dir\s+error\s+mlperf_data_dir is not one shared filesystem: the launcher "
                     r"cannot see the sentinel files written there by node2, node3", out, re.M), out[-5000:]
    assert "Start the engine" not in out and os.listdir(launcher) == []
