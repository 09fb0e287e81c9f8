# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The results-directory lock: exclusive, re-entrant for its holder, stale holders detected by pid + start time."""
import json
import os
import subprocess
import sys

import pytest

from ansible_collections.mlperf.storage.plugins.plugin_utils import _results_lock as lock


def dead_pid():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_second_holder_is_refused_with_the_holder_named(tmp_path):
    lock.acquire(str(tmp_path), os.getpid(), purpose="training unet3d")
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        with pytest.raises(lock.LockHeld) as err:
            lock.acquire(str(tmp_path), other.pid, wait=0)
    finally:
        other.kill()
        other.wait()
    message = str(err.value)
    assert "pid %d" % os.getpid() in message and "training unet3d" in message
    assert "mlperf_results_lock_wait" in message and str(tmp_path / lock.LOCK_NAME) in message


def test_the_holder_may_take_it_again_and_release_it(tmp_path):
    record, replaced = lock.acquire(str(tmp_path), os.getpid())
    again, _ = lock.acquire(str(tmp_path), os.getpid())
    assert again == record and replaced is None
    assert lock.release(str(tmp_path), os.getpid()) is True
    assert not (tmp_path / lock.LOCK_NAME).exists()
    assert lock.release(str(tmp_path), os.getpid()) is False


def test_release_by_someone_else_changes_nothing(tmp_path):
    lock.acquire(str(tmp_path), os.getpid())
    assert lock.release(str(tmp_path), os.getpid() + 1) is False
    assert (tmp_path / lock.LOCK_NAME).exists()


def test_a_lock_left_by_a_dead_process_is_taken_over(tmp_path):
    pid = dead_pid()
    (tmp_path / lock.LOCK_NAME).write_text(json.dumps(lock.holder_record(pid, "crashed run") | {"start_ticks": 1}))
    record, replaced = lock.acquire(str(tmp_path), os.getpid())
    assert replaced["pid"] == pid and record["pid"] == os.getpid()


def test_a_reused_pid_is_not_the_holder(tmp_path):
    # same pid as the holder recorded, but another process (start time differs): stale
    stale = lock.holder_record(os.getppid())
    stale["start_ticks"] = (stale["start_ticks"] or 0) + 12345
    (tmp_path / lock.LOCK_NAME).write_text(json.dumps(stale))
    _record, replaced = lock.acquire(str(tmp_path), os.getpid())
    assert replaced["pid"] == os.getppid()


def test_a_holder_on_another_host_is_never_broken(tmp_path):
    foreign = {"pid": dead_pid(), "host": "some-other-controller", "start_ticks": 1, "since": "x", "purpose": "p"}
    (tmp_path / lock.LOCK_NAME).write_text(json.dumps(foreign))
    with pytest.raises(lock.LockHeld) as err:
        lock.acquire(str(tmp_path), os.getpid(), wait=0)
    assert "some-other-controller" in str(err.value)


def test_waiting_ends_when_the_holder_goes(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(1.5)"])
    lock.acquire(str(tmp_path), holder.pid)
    record, replaced = lock.acquire(str(tmp_path), os.getpid(), wait=20, poll=0.2)
    holder.wait()
    assert record["pid"] == os.getpid() and replaced["pid"] == holder.pid


def test_waiting_gives_up_after_the_timeout(tmp_path):
    lock.acquire(str(tmp_path), os.getpid())
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        with pytest.raises(lock.LockHeld) as err:
            lock.acquire(str(tmp_path), holder.pid, wait=1.2, poll=0.2)
    finally:
        holder.kill()
        holder.wait()
    assert "waited" in str(err.value)
