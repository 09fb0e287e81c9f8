# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The training benchmark across three SSH hosts built like an ops team's cluster (network namespaces, see
docs/test-hosts.md "ops mode"): inventory names that resolve nowhere (hosts reached by ansible_host address,
mlperf_mpi_host set to the address), sshd on port 2222 only, a non-root remote user with sudo. The real DLIO runs
over MPICH/SSH.

One harness for the whole story (each act builds on the previous one and the hosts cost little; DLIO dominates):
1. a clean run: ranks spread one per host by address, the shared-filesystem probe passes, every host's telemetry
   and the launcher's run directories land in one results tree on the controller, with sha256 manifests;
2. opsnode3 drops off the network mid-run: the lost-client watch probes port 2222 (not 22) of its mlperf_mpi_host;
   the play fails naming opsnode3; the run directory is kept and marked incomplete; telemetry of the others is
   collected; no process of that run is left on opsnode1/opsnode2; act 1's directories are byte-for-byte untouched;
3. opsnode3 is back: the rerun works, and the ranks the lost run left on opsnode3 (found by the run's identity,
   MLPERF_STORAGE_RUN_ID) are gone;
4. the launcher (opsnode1) is cut off from the controller mid-run: the play fails naming it; the engine on the
   launcher stops itself when the controller's polls stop (heartbeat), writes its status and keeps its run
   directory; no process of that run is left on any host.
"""
import glob
import json
import os
import re
import time

import pytest

from _faultkit import (TINY, check_manifest, finish, identity_processes, metadata, recap, run_dirs,
                       run_training, start_playbook, tree_digest, wait_for)

pytestmark = [pytest.mark.multihost, pytest.mark.integration, pytest.mark.reliability]

OPS = ("opsnode1", "opsnode2", "opsnode3")


def cluster_dir(harness, *parts):
    """A directory the remote (non-root) user owns, inside the harness (pytest's tmp dirs are root-only)."""
    path = os.path.join(harness.work_dir, "cluster", *parts)
    os.makedirs(path, exist_ok=True)
    for at in [os.path.join(harness.work_dir, "cluster")] + [
            os.path.join(harness.work_dir, "cluster", *parts[:i + 1]) for i in range(len(parts))]:
        os.chown(at, harness.uid, harness.gid)
    return path


def host_vars(harness, tmp_path):
    launcher = cluster_dir(harness, "launcher_results")
    controller = str(tmp_path / "controller_results")
    os.makedirs(controller, exist_ok=True)
    # the work directory is node-local scratch: one path, each host's own content (engine configs, telemetry spool)
    extra = dict(TINY, mlperf_results_dir=launcher, mlperf_controller_results_dir=controller,
                 mlperf_data_dir=harness.data_dir, mlperf_work_dir=harness.scratch_dir, run_phase_peer_lost_after=8)
    return extra, launcher, controller


def sentinels_left(harness):
    """Preflight sentinel files left in any host's data directory (as the controller sees them)."""
    return sorted(path for host in harness.hosts
                  for path in glob.glob(os.path.join(host.data_source, ".mlperf-sentinel-*")))


def async_dir(harness):
    return cluster_dir(harness, "async")


def test_ops_cluster_clean_run_lost_client_and_rerun(netns_hosts, tmp_path, embedded_env):
    harness = netns_hosts(n=3, shared_data=True, ops=True)
    assert harness.ssh_port != 22 and harness.user != "root" and not harness.names_resolve
    extra, launcher, controller = host_vars(harness, tmp_path)
    adir = async_dir(harness)

    # --- act 1: a clean run across three hosts --------------------------------------------------------------
    out = run_training(tmp_path, harness.inventory_path, extra, "act1", timeout=900, async_dir=adir)
    rc = recap(out)
    assert all("failed=0" in rc[h] and "unreachable=0" in rc[h] for h in OPS), out[-6000:]
    assert "shared" in out.lower()
    [datagen] = run_dirs(launcher, "datagen")
    [run1] = run_dirs(launcher)
    status = json.load(open(os.path.join(run1, ".engine-status.json")))
    argv = status["argv"]
    # MPI is given the addresses (mlperf_mpi_host), never the inventory names that resolve nowhere
    assert argv[argv.index("-hosts") + 1] == ",".join("%s:1" % h.address for h in harness.hosts)
    assert argv[argv.index("-n") + 1] == "3"
    # each rank wrote its own output: three ranks on three hosts, as the non-root user
    outputs = sorted(n for n in os.listdir(run1) if n.endswith("_output.json"))
    assert outputs == ["0_output.json", "1_output.json", "2_output.json"]
    # preflight's shared-filesystem sentinels are gone: the launcher read and removed every host's, its own too
    assert sentinels_left(harness) == []
    # every rank read the workload definition on its own host: each host's scratch holds it
    config_arg = [a for a in argv if a.startswith("--config-dir=")][0].split("=", 1)[1]
    assert config_arg.startswith(harness.scratch_dir + "/"), config_arg
    for host in harness.hosts:
        local = os.path.join(host.scratch_source, os.path.relpath(config_arg, harness.scratch_dir), "workload")
        assert any(name.endswith(".yaml") for name in os.listdir(local)), (host.name, local)
    assert os.stat(os.path.join(run1, outputs[0])).st_uid == harness.uid
    ctl_run1 = os.path.join(controller, os.path.relpath(run1, launcher))
    telemetry = sorted(os.listdir(os.path.join(ctl_run1, "telemetry")))
    assert {"%s.jsonl" % h for h in OPS} <= set(telemetry)
    listed = check_manifest(ctl_run1)  # the controller's copy matches the launcher's manifest
    assert "telemetry/opsnode3.jsonl" in listed and "summary.json" in listed
    meta1 = metadata(ctl_run1)
    assert meta1["complete"] is True and len(meta1["run_id"]) > 16
    assert "MLPerf Storage rules verification" in out
    # nothing in either results tree is group- or world-writable
    for root in (launcher, controller):
        for dirpath, dirs, files in os.walk(root):
            for name in dirs + files:
                path = os.path.join(dirpath, name)
                assert not os.lstat(path).st_mode & 0o022, "%s is group/world-writable" % path
    before = {d: tree_digest(d) for d in (datagen, run1)}

    # --- act 2: opsnode3 is lost in the middle of the run ------------------------------------------------------
    proc = start_playbook(tmp_path, harness.inventory_path, extra, "act2", async_dir=adir)
    log = proc.log_path
    assert wait_for(lambda: "run 1/1: epoch" in open(log).read() or proc.poll() is not None, 400), \
        open(log).read()[-4000:]
    assert proc.poll() is None, open(log).read()[-4000:]
    harness.cut("node3")
    out = finish(proc, 400)
    assert proc.returncode != 0
    # the watch probed the port MPI's ssh uses (2222, from the launcher's ssh config) at the address
    assert re.search(r"lost client\(s\) opsnode3 while the engine runs \(opsnode3: at %s: (connection to )?port %d"
                     % (re.escape(harness.host("node3").address), harness.ssh_port), out), out[-6000:]
    assert "run 1/1 failed:" in out and "clients unreachable: opsnode3" in out, out[-6000:]
    run2 = [d for d in run_dirs(launcher) if d != run1]
    assert len(run2) == 1, run_dirs(launcher)
    run2 = run2[0]
    meta = metadata(run2)
    assert meta["complete"] is False and meta["unreachable_clients"] == ["opsnode3"]
    assert any("opsnode3" in reason for reason in meta["incomplete_reasons"])
    ctl_run2 = os.path.join(controller, os.path.relpath(run2, launcher))
    check_manifest(ctl_run2)  # collected to the controller and sealed, though failed
    telemetry = set(os.listdir(os.path.join(ctl_run2, "telemetry")))
    assert {"opsnode1.jsonl", "opsnode2.jsonl"} <= telemetry and "opsnode3.jsonl" not in telemetry
    assert os.path.exists(os.path.join(ctl_run2, "training_run.stderr.log"))
    # no process of that run on the reachable hosts (found by the run's identity inside each namespace)
    for host in ("node1", "node2"):
        left = identity_processes(meta["run_id"], harness.host(host).netns)
        assert left == [], "%s still runs %s: %s" % (host, run2, left)
    assert {d: tree_digest(d) for d in (datagen, run1)} == before

    # --- act 3: opsnode3 is back; the rerun works and stops what the lost run left there -----------------------
    harness.restore("node3")
    out = run_training(tmp_path, harness.inventory_path, extra, "act3", timeout=900, async_dir=adir)
    rc = recap(out)
    assert all("failed=0" in rc[h] for h in OPS), out[-6000:]
    assert wait_for(lambda: not identity_processes(meta["run_id"]), 15), identity_processes(meta["run_id"])
    run3 = [d for d in run_dirs(launcher) if d not in (run1, run2)]
    assert len(run3) == 1 and metadata(run3[0])["complete"] is True
    assert {d: tree_digest(d) for d in (datagen, run1)} == before
    assert os.path.isdir(run2)  # the failed run stays

    # --- act 4: the launcher is cut off from the controller in the middle of a run -----------------------------
    heartbeat = 30
    proc = start_playbook(tmp_path, harness.inventory_path, dict(extra, run_phase_heartbeat_timeout=heartbeat),
                          "act4", async_dir=adir)
    log = proc.log_path
    assert wait_for(lambda: "run 1/1: epoch" in open(log).read() or proc.poll() is not None, 400), \
        open(log).read()[-4000:]
    assert proc.poll() is None, open(log).read()[-4000:]
    [run4] = [d for d in run_dirs(launcher) if d not in (run1, run2, run3[0])]
    harness.cut("node1")
    cut_at = time.time()
    out = finish(proc, 400)
    assert proc.returncode != 0
    assert re.search(r"opsnode1.*UNREACHABLE", out), out[-6000:]
    # the engine on the launcher notices that nobody polls any more and stops itself; its directory stays there
    status_file = os.path.join(run4, ".engine-status.json")
    assert wait_for(lambda: os.path.exists(status_file), heartbeat + 60), os.listdir(run4)
    status = json.load(open(status_file))
    assert status["ended_by"] == "controller-lost" and status["rc"] != 0, status
    assert time.time() - cut_at < heartbeat + 90
    assert os.path.exists(os.path.join(run4, "training_run.stderr.log"))
    # nothing of that run is left anywhere: the launcher's own ranks went with its engine, the other clients'
    # ranks were stopped by the play (by the run's identity) or ended with their launcher
    assert wait_for(lambda: not identity_processes(status["run_id"]), 60), identity_processes(status["run_id"])
    assert {d: tree_digest(d) for d in (datagen, run1)} == before
    harness.restore("node1")


def test_preflight_names_an_unreachable_client_and_starts_nothing(netns_hosts, tmp_path):
    harness = netns_hosts(n=3, shared_data=True, ops=True)
    extra, launcher, controller = host_vars(harness, tmp_path)
    harness.cut("node2")
    started = time.time()
    out = run_training(tmp_path, harness.inventory_path, extra, "unreachable", timeout=300,
                       async_dir=async_dir(harness))
    assert "Preflight found problems; nothing was started" in out, out[-5000:]
    assert re.search(r"^opsnode2\s+reachable\s+error\s+unreachable: .*10\.231\.\d+\.2", out, re.M), out[-5000:]
    assert "failed=1" in recap(out)["opsnode1"]
    assert os.listdir(launcher) == [] and run_dirs(controller) == []  # nothing started
    assert "Start the engine" not in out
    assert time.time() - started < 240


def test_preflight_rejects_per_host_data_dirs_for_training(netns_hosts, tmp_path):
    harness = netns_hosts(n=3, shared_data=False, ops=True)
    extra, launcher, _controller = host_vars(harness, tmp_path)
    for host in harness.hosts:
        os.chown(host.data_source, harness.uid, harness.gid)
    out = run_training(tmp_path, harness.inventory_path, extra, "local_data", timeout=300,
                       async_dir=async_dir(harness))
    assert re.search(r"^opsnode1\s+shared-data_dir\s+error\s+mlperf_data_dir is not one shared filesystem: the "
                     r"launcher cannot see the sentinel files written there by opsnode2, opsnode3", out, re.M), \
        out[-5000:]
    assert "Start the engine" not in out and os.listdir(launcher) == []
    # the launcher saw only its own sentinel; every other host removed its own from its node-local directory
    assert sentinels_left(harness) == []
