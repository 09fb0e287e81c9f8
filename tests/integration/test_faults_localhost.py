# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Faults that need no second host, with the real DLIO on localhost: two playbooks on one results directory,
ansible-playbook interrupted during a run, and a results filesystem that fills up."""
import json
import os
import signal
import subprocess

import pytest

from _faultkit import (TINY, engine_processes, finish, recap, require_engine, run_dirs, run_training,
                       start_playbook, wait_for)
from _testpaths import REPO

pytestmark = pytest.mark.integration

LOCAL = os.path.join(REPO, "inventories", "local", "hosts.yml")


def local_vars(tmp_path, results=None):
    dirs = {name: str(tmp_path / name) for name in ("data", "results", "work", "async")}
    for path in dirs.values():
        os.makedirs(path, exist_ok=True)
    results = results or dirs["results"]
    return dict(TINY, mlperf_accelerators_per_host=1, mlperf_data_dir=dirs["data"], mlperf_results_dir=results,
                mlperf_controller_results_dir=results, mlperf_work_dir=dirs["work"],
                mlperf_system="ns", mlperf_org="faults", run_phase_heartbeat_timeout=10)


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM])
def test_second_playbook_refused_then_interrupted_run_cleans_up(tmp_path, stop_signal):
    require_engine()
    extra = local_vars(tmp_path)
    # enough epochs that the run cannot end by itself before the heartbeat limit
    extra["mlperf_params"] = dict(extra["mlperf_params"], **{"train.epochs": 200})
    results = extra["mlperf_results_dir"]
    lock_file = os.path.join(results, ".mlperf-results.lock")
    first = start_playbook(tmp_path, LOCAL, extra, "first")
    try:
        assert wait_for(lambda: os.path.exists(lock_file) or first.poll() is not None, 300), \
            open(first.log_path).read()[-4000:]
        holder = json.load(open(lock_file))
        assert holder["pid"] == first.pid  # the ansible-playbook process itself holds it

        # a second playbook on the same results directory refuses, naming the first
        os.makedirs(str(tmp_path / "second" / "async"))
        out = run_training(tmp_path / "second", LOCAL, extra, "second", timeout=300)
        assert "is in use by another playbook: pid %d" % first.pid in out, out[-4000:]
        assert "failed=1" in recap(out)["localhost"]

        # the first one is interrupted during its run (after datagen)
        assert wait_for(lambda: "run 1/1: epoch" in open(first.log_path).read() or first.poll() is not None, 400), \
            open(first.log_path).read()[-4000:]
        assert first.poll() is None
        [leaf] = run_dirs(results)
        assert engine_processes(leaf)
        first.send_signal(stop_signal)
        finish(first, 60)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    # the engine notices nobody polls any more and stops: status written, every process of the run gone
    status_file = os.path.join(leaf, ".engine-status.json")
    assert wait_for(lambda: os.path.exists(status_file), 60), os.listdir(leaf)
    status = json.load(open(status_file))
    assert status["ended_by"] == "controller-lost" and status["rc"] != 0, status
    assert wait_for(lambda: not engine_processes(leaf), 20), engine_processes(leaf)
    assert os.path.exists(os.path.join(leaf, "training_run.stderr.log"))  # partial results kept
    # the lock the interrupted playbook left is stale: the next playbook takes it over
    from ansible_collections.mlperf.storage.plugins.plugin_utils import _results_lock
    _record, replaced = _results_lock.acquire(results, os.getpid())
    assert replaced["pid"] == first.pid


def test_results_filesystem_full_gives_a_clear_error_and_keeps_what_was_written(tmp_path):
    require_engine()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mount = tmp_path / "small"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=96k,mode=0755", "tmpfs", str(mount)]).returncode:
        pytest.skip("cannot mount a tmpfs here")
    try:
        extra = local_vars(tmp_path, results=str(mount))
        out = run_training(tmp_path, LOCAL, extra, "full", timeout=500)
        assert "failed=1" in recap(out)["localhost"], out[-5000:]
        assert "No space left on device" in out, out[-5000:]
        assert "The results filesystem is full (%s on localhost" % mount in out, out[-5000:]
        assert "is kept, marked incomplete" in out, out[-5000:]
        leaves = run_dirs(str(mount), "datagen") + run_dirs(str(mount))
        assert leaves, "the partial run directory was deleted"
        assert any(os.listdir(leaf) for leaf in leaves)
        assert not any(engine_processes(leaf) for leaf in leaves)
    finally:
        subprocess.run(["umount", "-l", str(mount)])
