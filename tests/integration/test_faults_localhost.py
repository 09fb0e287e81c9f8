# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Faults that need no second host, with the real DLIO on localhost: two playbooks on one results directory,
ansible-playbook interrupted during a run, and a results filesystem that fills up."""
import glob
import json
import os
import signal
import subprocess

import pytest

from _faultkit import (TINY, engine_processes, finish, identity_processes, recap, run_dirs, run_training,
                       start_playbook, tree_digest, wait_for)
from _testpaths import REPO

pytestmark = [pytest.mark.integration, pytest.mark.reliability]

LOCAL = os.path.join(REPO, "inventories", "local", "hosts.yml")


def local_vars(tmp_path, results=None):
    dirs = {name: str(tmp_path / name) for name in ("data", "results", "work", "async")}
    for path in dirs.values():
        os.makedirs(path, exist_ok=True)
    results = results or dirs["results"]
    return dict(TINY, mlperf_accelerators_per_host=1, mlperf_data_dir=dirs["data"], mlperf_results_dir=results,
                mlperf_controller_results_dir=results, mlperf_work_dir=dirs["work"],
                mlperf_system="ns", mlperf_org="faults", run_phase_heartbeat_timeout=10)


def _interrupt_and_check_cleanup(first, leaf, stop_signal):
    """Stop ansible-playbook with ``stop_signal`` mid-run: the engine notices nobody polls any more and stops."""
    engine_pids = engine_processes(leaf)
    assert engine_pids
    first.send_signal(stop_signal)
    finish(first, 60)
    # the engine notices nobody polls any more and stops: status written, every process of the run gone
    status_file = os.path.join(leaf, ".engine-status.json")
    assert wait_for(lambda: os.path.exists(status_file), 60), os.listdir(leaf)
    status = json.load(open(status_file))
    assert status["ended_by"] == "controller-lost" and status["rc"] != 0, status
    assert "no progress poll from the controller" in status["error"]
    assert wait_for(lambda: not engine_processes(leaf), 20), engine_processes(leaf)
    assert wait_for(lambda: not identity_processes(status["run_id"]), 20), identity_processes(status["run_id"])
    assert os.path.exists(os.path.join(leaf, "training_run.stderr.log"))  # partial results kept


def _start_long_run(tmp_path, extra, name="first"):
    # enough epochs that the run cannot end by itself before the heartbeat limit
    extra = dict(extra, mlperf_params=dict(extra["mlperf_params"], **{"train.epochs": 200}))
    return start_playbook(tmp_path, LOCAL, extra, name)


def _wait_for_run(first, results):
    assert wait_for(lambda: "run 1/1: epoch" in open(first.log_path).read() or first.poll() is not None, 400), \
        open(first.log_path).read()[-4000:]
    assert first.poll() is None, open(first.log_path).read()[-4000:]
    [leaf] = run_dirs(results)
    return leaf


def test_two_playbooks_on_one_results_directory_then_interrupted_run_cleans_up(tmp_path, embedded_env):
    """Same controller results directory: the second is refused by the lock. Another controller sharing the
    launcher's results directory (its own controller directory, so not serialised): it runs to the end next to
    the first without touching the first's processes, files or a `tail -f` of its log. Then ansible-playbook is
    stopped with SIGTERM mid-run and the engine stops itself."""
    # two playbooks and two engines share 2 cores here: a poll of the first may come late, so the heartbeat limit
    # is wider than in the single-playbook cases
    extra = dict(local_vars(tmp_path), run_phase_heartbeat_timeout=25)
    results = extra["mlperf_results_dir"]
    lock_file = os.path.join(results, ".mlperf-results.lock")
    first = _start_long_run(tmp_path, extra)
    tail = None
    try:
        assert wait_for(lambda: os.path.exists(lock_file) or first.poll() is not None, 300), \
            open(first.log_path).read()[-4000:]
        holder = json.load(open(lock_file))
        assert holder["pid"] == first.pid  # the ansible-playbook process itself holds it

        # a second playbook on the same results directory refuses, naming the first, and leaves its lock alone
        os.makedirs(str(tmp_path / "second" / "async"))
        out = run_training(tmp_path / "second", LOCAL, extra, "second", timeout=300)
        assert "is in use by another playbook" in out and "pid %d" % first.pid in out, out[-4000:]
        assert "failed=1" in recap(out)["localhost"]
        assert json.load(open(lock_file))["token"] == holder["token"]

        leaf = _wait_for_run(first, results)
        # the first run's engine runner (its pid file names it and the run's identity)
        [pid_file] = glob.glob(os.path.join(extra["mlperf_work_dir"], "engine-%s.pid" % os.path.basename(leaf)))
        engine = json.load(open(pid_file))
        assert identity_processes(engine["run_id"])
        tail = subprocess.Popen(["tail", "-f", os.path.join(leaf, "training_run.stdout.log")],
                                stdout=subprocess.DEVNULL)
        # another controller writes into the same launcher results directory while the first runs
        other = tmp_path / "other"
        os.makedirs(str(other / "async"))
        os.makedirs(str(other / "controller_results"))
        other_extra = dict(extra, mlperf_controller_results_dir=str(other / "controller_results"))
        before = tree_digest(leaf)
        out = run_training(other, LOCAL, other_extra, "other", timeout=500)
        assert "failed=0" in recap(out)["localhost"], out[-5000:]
        runs = run_dirs(results)
        assert len(runs) == 2 and leaf in runs  # its own new run directory next to the first's
        assert first.poll() is None, "the first playbook ended while the other ran"
        assert tail.poll() is None, "a tail -f of the first run's log was killed"
        # the first run's engine was not stopped: no final status, its runner and ranks still there
        assert not os.path.exists(os.path.join(leaf, ".engine-status.json"))
        assert os.path.exists("/proc/%d" % engine["pid"]) and identity_processes(engine["run_id"])
        after = tree_digest(leaf)
        assert {k: v for k, v in after.items() if k in before and not k.endswith(".log")} == {
            k: v for k, v in before.items() if not k.endswith(".log")}  # logs grow; nothing else changed

        tail.terminate()  # ours, not the run's: the cleanup check below counts what names the run directory
        tail.wait()
        _interrupt_and_check_cleanup(first, leaf, signal.SIGTERM)
    finally:
        for proc in (first, tail):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
    # the lock the interrupted playbook left is stale: the next playbook takes it over
    from ansible_collections.mlperf.storage.plugins.plugin_utils import _results_lock
    _record, replaced = _results_lock.acquire(results, os.getpid())
    assert replaced["pid"] == first.pid


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGKILL], ids=["SIGINT", "SIGKILL"])
def test_interrupted_playbook_run_cleans_up(tmp_path, embedded_env, stop_signal):
    """Ctrl-C and kill -9 of ansible-playbook during a run: nothing is left running, the run directory stays."""
    extra = local_vars(tmp_path)
    first = _start_long_run(tmp_path, extra)
    try:
        leaf = _wait_for_run(first, extra["mlperf_results_dir"])
        _interrupt_and_check_cleanup(first, leaf, stop_signal)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()


def test_results_filesystem_full_gives_a_clear_error_and_keeps_what_was_written(tmp_path, embedded_env):
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
