# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The results-directory lock: atomic take and takeover (exactly one of many racing takers wins), a lock file never
seen partial, full disks, holder identity and liveness across hosts, containers and reboots (AWX), leases, breaking a
named holder, and releasing only one's own lock."""
import errno
import json
import multiprocessing
import os
import random
import subprocess
import sys
import threading
import time

import pytest

from ansible_collections.mlperf.storage.plugins.plugin_utils import _results_lock as lock

pytestmark = pytest.mark.reliability

ME = lock.local_identity()


def dead_pid():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def sleeper(seconds=60):
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(%d)" % seconds])


def write_lock(directory, record):
    path = os.path.join(str(directory), lock.LOCK_NAME)
    with open(path, "w") as handle:
        json.dump(record, handle)
    return path


def foreign(lease_until_epoch=None, **changes):
    record = lock.holder_record(dead_pid(), "training unet3d", host="ctrl-b", lease=0,
                                identity=dict(ME, host="ctrl-b", boot_id="b" * 32, machine_id="m" * 32))
    record["lease_until_epoch"] = lease_until_epoch
    record["lease_until"] = lock._iso(lease_until_epoch)
    record.update(changes)
    return record


def leftovers(directory):
    return sorted(name for name in os.listdir(str(directory)) if name != lock.LOCK_NAME)


# --------------------------------------------------------------------------------------------------- basic behaviour


def test_second_holder_is_refused_with_the_holder_named_and_how_to_clear_it(tmp_path):
    record, _ = lock.acquire(str(tmp_path), os.getpid(), purpose="training unet3d", lease=3600,
                             awx={"job_id": "42", "template": "mlperf training", "url": "https://awx.example"})
    other = sleeper()
    try:
        with pytest.raises(lock.LockHeld) as err:
            lock.acquire(str(tmp_path), other.pid, wait=0)
    finally:
        other.kill()
        other.wait()
    message = str(err.value)
    assert "is in use by another playbook: pid %d on %s" % (os.getpid(), ME["host"]) in message
    assert "AWX job 42 (mlperf training) at https://awx.example/#/jobs/playbook/42" in message
    assert "for training unet3d" in message and "since %s" % record["since"] in message
    assert "lease until %s" % record["lease_until"] in message
    assert "its process %d is running on this host" % os.getpid() in message
    assert "mlperf_results_lock_wait" in message
    assert "-e mlperf_results_lock_break=%s" % record["token"] in message
    assert "delete %s by hand" % (tmp_path / lock.LOCK_NAME) in message
    assert err.value.holder["token"] == record["token"]
    assert leftovers(tmp_path) == []  # the refused taker left no temporary file


def test_the_record_names_the_holder_completely(tmp_path):
    before = time.time()
    record, replaced = lock.acquire(str(tmp_path), os.getpid(), purpose="p", lease=600, awx={"job_id": "7"})
    on_disk = json.loads((tmp_path / lock.LOCK_NAME).read_text())
    assert on_disk == record and replaced is None
    assert record["pid"] == os.getpid() and record["start_ticks"] == lock.process_start_ticks(os.getpid())
    assert record["host"] == ME["host"] and record["boot_id"] == ME["boot_id"] and record["pid_ns"] == ME["pid_ns"]
    assert record["boot_id"] and len(record["token"]) == 16 and record["user"]
    assert record["awx"] == {"job_id": "7"} and record["purpose"] == "p"
    assert before + 599.9 <= record["lease_until_epoch"] <= time.time() + 600.1
    assert oct((tmp_path / lock.LOCK_NAME).stat().st_mode & 0o777) == "0o644"


def test_the_holder_may_take_it_again_keeping_its_token_and_renewing_its_lease(tmp_path):
    record, _ = lock.acquire(str(tmp_path), os.getpid(), purpose="training", lease=60)
    again, replaced = lock.acquire(str(tmp_path), os.getpid(), purpose="checkpointing", lease=7200)
    assert replaced is None and again["token"] == record["token"] and again["since"] == record["since"]
    assert again["purpose"] == "checkpointing" and again["lease_until_epoch"] > record["lease_until_epoch"] + 7000
    assert json.loads((tmp_path / lock.LOCK_NAME).read_text()) == again
    assert leftovers(tmp_path) == []


def test_release_removes_only_our_own_lock_is_idempotent_and_never_raises(tmp_path):
    record, _ = lock.acquire(str(tmp_path), os.getpid())
    assert lock.release(str(tmp_path), pid=os.getpid() + 1)[0] is False  # another process, no token
    released, message, holder = lock.release(str(tmp_path), token="0" * 16)
    assert not released and "held by someone else" in message and holder["token"] == record["token"]
    assert (tmp_path / lock.LOCK_NAME).exists()
    assert lock.release(str(tmp_path), token=record["token"])[0] is True
    assert not (tmp_path / lock.LOCK_NAME).exists() and leftovers(tmp_path) == []
    released, message, _ = lock.release(str(tmp_path), token=record["token"])
    assert not released and "already released" in message
    # by process identity (the older call without a token)
    lock.acquire(str(tmp_path), os.getpid())
    assert lock.release(str(tmp_path), pid=os.getpid())[0] is True
    # never raises: missing directory, unreadable lock file
    assert lock.release(str(tmp_path / "missing"), token="x")[0] is False
    (tmp_path / lock.LOCK_NAME).write_text("")
    assert lock.release(str(tmp_path), pid=os.getpid())[0] is False
    assert (tmp_path / lock.LOCK_NAME).exists()


def test_a_lock_left_by_a_dead_process_is_taken_over_with_the_reason(tmp_path):
    pid = dead_pid()
    write_lock(tmp_path, lock.holder_record(pid, "crashed run", identity=ME) | {"start_ticks": 1})
    record, replaced = lock.acquire(str(tmp_path), os.getpid())
    assert replaced["pid"] == pid and record["pid"] == os.getpid()
    assert "its process %d on %s is gone" % (pid, ME["host"]) == replaced["stale_reason"]
    assert json.loads((tmp_path / lock.LOCK_NAME).read_text())["token"] == record["token"]
    assert leftovers(tmp_path) == []


def test_a_reused_pid_is_not_the_holder(tmp_path):
    stale = lock.holder_record(os.getppid(), identity=ME)
    stale["start_ticks"] = (stale["start_ticks"] or 0) + 12345
    write_lock(tmp_path, stale)
    _record, replaced = lock.acquire(str(tmp_path), os.getpid())
    assert replaced["pid"] == os.getppid() and "is now another process" in replaced["stale_reason"]


def test_a_record_of_the_older_format_is_still_judged(tmp_path):
    old = {"pid": dead_pid(), "host": ME["host"], "start_ticks": 1, "since": "x", "purpose": "p"}
    write_lock(tmp_path, old)
    _record, replaced = lock.acquire(str(tmp_path), os.getpid())
    assert replaced["pid"] == old["pid"]


def test_waiting_ends_when_the_holder_goes(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(1.5)"])
    lock.acquire(str(tmp_path), holder.pid)
    record, replaced = lock.acquire(str(tmp_path), os.getpid(), wait=20, poll=0.2)
    holder.wait()
    assert record["pid"] == os.getpid() and replaced["pid"] == holder.pid


def test_waiting_gives_up_after_the_timeout(tmp_path):
    lock.acquire(str(tmp_path), os.getpid())
    holder = sleeper()
    try:
        with pytest.raises(lock.LockHeld) as err:
            lock.acquire(str(tmp_path), holder.pid, wait=1.2, poll=0.2)
    finally:
        holder.kill()
        holder.wait()
    assert "(waited 1 s)" in str(err.value)


# --------------------------------------------------------------------------------------------------------- races


def _race_child(directory, start, done, results, hold):
    start.wait()
    try:
        record, replaced = lock.acquire(directory, os.getpid(), wait=0)
        results.put(("won", os.getpid(), record["token"], (replaced or {}).get("pid")))
    except lock.LockHeld as exc:
        results.put(("held", os.getpid(), (exc.holder or {}).get("token"), None))
    except Exception as exc:  # noqa: BLE001 - reported to the test
        results.put(("error", os.getpid(), repr(exc), None))
    if hold:
        done.wait()  # the winner stays alive until every taker has tried


@pytest.mark.parametrize("round_no", range(6))
def test_of_many_processes_racing_to_take_over_one_stale_lock_exactly_one_wins(tmp_path, monkeypatch, round_no):
    takers = 12
    stale_pid = dead_pid()
    write_lock(tmp_path, lock.holder_record(stale_pid, "crashed", identity=ME) | {"start_ticks": 1})
    # widen the window between judging the lock stale and replacing it: the naive unlink-then-create lets two win
    monkeypatch.setattr(lock, "_before_takeover", lambda: time.sleep(random.uniform(0, 0.01)))
    ctx = multiprocessing.get_context("fork")
    start, done, results = ctx.Barrier(takers), ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_race_child, args=(str(tmp_path), start, done, results, True)) for _ in range(takers)]
    for proc in procs:
        proc.start()
    outcomes = [results.get(timeout=60) for _ in procs]
    on_disk = json.loads((tmp_path / lock.LOCK_NAME).read_text())
    done.set()
    for proc in procs:
        proc.join(30)
    winners = [o for o in outcomes if o[0] == "won"]
    assert [o for o in outcomes if o[0] == "error"] == []
    assert len(winners) == 1, outcomes
    _won, pid, token, replaced_pid = winners[0]
    assert on_disk["token"] == token and on_disk["pid"] == pid and replaced_pid == stale_pid
    # every loser was refused naming the winner
    assert {o[2] for o in outcomes if o[0] == "held"} == {token}
    assert leftovers(tmp_path) == []


def test_of_many_threads_racing_for_a_free_then_a_stale_lock_exactly_one_wins_each_time(tmp_path, monkeypatch):
    monkeypatch.setattr(lock, "_before_takeover", lambda: time.sleep(random.uniform(0, 0.005)))
    holders = [sleeper() for _ in range(10)]
    try:
        for round_no in range(4):
            if round_no % 2:  # a stale lock to fight over; else a free directory
                write_lock(tmp_path, lock.holder_record(dead_pid(), identity=ME) | {"start_ticks": 1})
            gate, won, held, errors = threading.Barrier(len(holders)), [], [], []

            def take(pid):
                gate.wait()
                try:
                    won.append(lock.acquire(str(tmp_path), pid, wait=0)[0]["token"])
                except lock.LockHeld as exc:
                    held.append(exc.holder["token"])
                except Exception as exc:  # noqa: BLE001
                    errors.append(exc)

            threads = [threading.Thread(target=take, args=(proc.pid,)) for proc in holders]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(60)
            assert errors == [] and len(won) == 1, (won, held, errors)
            assert set(held) == set(won) and len(held) == len(holders) - 1
            assert json.loads((tmp_path / lock.LOCK_NAME).read_text())["token"] == won[0]
            os.unlink(str(tmp_path / lock.LOCK_NAME))
    finally:
        for proc in holders:
            proc.kill()
            proc.wait()
    assert leftovers(tmp_path) == []


def test_a_reader_never_sees_the_lock_file_empty_or_partial(tmp_path):
    stop = threading.Event()
    bad, seen = [], [0]

    def read_loop():
        path = str(tmp_path / lock.LOCK_NAME)
        while not stop.is_set():
            try:
                with open(path) as handle:
                    text = handle.read()
            except FileNotFoundError:
                continue
            seen[0] += 1
            try:
                assert json.loads(text)["token"]
            except (ValueError, KeyError, AssertionError):
                bad.append(text)

    reader = threading.Thread(target=read_loop)
    reader.start()
    try:
        for _ in range(300):
            record, _ = lock.acquire(str(tmp_path), os.getpid(), purpose="x" * 2000)
            assert lock.release(str(tmp_path), token=record["token"])[0]
    finally:
        stop.set()
        reader.join()
    assert bad == [] and seen[0] > 0


def test_a_break_marker_left_by_a_dead_replacer_stops_nothing_for_long(tmp_path, monkeypatch):
    write_lock(tmp_path, lock.holder_record(dead_pid(), identity=ME) | {"start_ticks": 1})
    inode = os.stat(str(tmp_path / lock.LOCK_NAME)).st_ino
    marker = str(tmp_path / ("%s.break-%d" % (lock.LOCK_NAME, inode)))
    os.link(str(tmp_path / lock.LOCK_NAME), marker)  # as if a replacer died right after taking the marker
    monkeypatch.setattr(lock, "MARKER_GRACE", 0.3)
    record, replaced = lock.acquire(str(tmp_path), os.getpid(), wait=0)
    assert replaced and record["pid"] == os.getpid() and leftovers(tmp_path) == []


# ---------------------------------------------------------------------------------- unreadable lock, full disk


@pytest.mark.parametrize("content", ["", "{\"pid\": 12", "garbage\x00\x01", "[1, 2]"])
def test_an_unreadable_lock_file_blocks_only_for_a_short_grace_period(tmp_path, content):
    path = write_lock(tmp_path, {})
    with open(path, "w") as handle:
        handle.write(content)
    with pytest.raises(lock.LockHeld) as err:
        lock.acquire(str(tmp_path), os.getpid(), wait=0)
    message = str(err.value)
    assert "pid ?" not in message and "is not a readable lock record" in message
    assert "delete %s by hand" % path in message and "stale 30 s after" in message
    old = time.time() - lock.UNREADABLE_GRACE - 5
    os.utime(path, (old, old))
    record, replaced = lock.acquire(str(tmp_path), os.getpid(), wait=0)
    assert replaced["unreadable"] == content and "last written 3" in replaced["stale_reason"]
    assert json.loads(open(path).read())["token"] == record["token"]


def test_no_space_for_the_record_fails_clearly_and_leaves_nothing(tmp_path, monkeypatch):
    real_write = os.write

    def full(fd, data):
        real_write(fd, bytes(data[:10]))  # a part gets written, then the disk is full
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(lock.os, "write", full)
    with pytest.raises(lock.LockError) as err:
        lock.acquire(str(tmp_path), os.getpid())
    assert str(err.value).startswith("results directory %s: no space left to write the lock" % tmp_path)
    assert "free space there" in str(err.value)
    assert os.listdir(str(tmp_path)) == []


@pytest.fixture
def full_tmpfs(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mount = tmp_path / "small"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,mode=0755", "tmpfs", str(mount)],
                      capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here")
    try:
        with open(str(mount / "filler"), "wb", buffering=0) as handle:
            with pytest.raises(OSError) as full:
                for _ in range(64):
                    handle.write(b"\0" * 4096)
            assert full.value.errno == errno.ENOSPC
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)])


def test_a_really_full_filesystem_fails_clearly_and_leaves_nothing(full_tmpfs):
    with pytest.raises(lock.LockError) as err:
        lock.acquire(str(full_tmpfs), os.getpid())
    assert "results directory %s: no space left to write the lock" % full_tmpfs in str(err.value)
    assert os.listdir(str(full_tmpfs)) == ["filler"]
    os.unlink(str(full_tmpfs / "filler"))
    record, _ = lock.acquire(str(full_tmpfs), os.getpid())
    assert json.loads((full_tmpfs / lock.LOCK_NAME).read_text())["token"] == record["token"]


# ------------------------------------------------------------------------------- identity, liveness, AWX, leases


def test_the_awx_job_comes_from_its_extra_vars_or_the_environment_awx_sets():
    assert lock.awx_identity({}, {"awx_job_id": 42, "awx_job_template_name": "mlperf training",
                                  "awx_user_name": "ops"}) == \
        {"job_id": "42", "template": "mlperf training", "launched_by": "ops"}
    assert lock.awx_identity({}, {"tower_job_id": 9, "tower_job_template_name": "t"}) == \
        {"job_id": "9", "template": "t"}
    assert lock.awx_identity({"JOB_ID": "17", "INVENTORY_ID": "3", "AWX_HOST": "https://awx.example"}, {}) == \
        {"job_id": "17", "url": "https://awx.example"}
    assert lock.awx_identity({"JOB_ID": "17"}, {}) == {}  # a batch scheduler's JOB_ID is not an AWX job
    assert lock.awx_identity({}, {}) == {}


def test_a_holder_on_another_host_is_alive_until_its_lease_ends(tmp_path):
    now = time.time()
    holder = foreign(now + 3600, awx={"job_id": "41"})
    write_lock(tmp_path, holder)
    with pytest.raises(lock.LockHeld) as err:
        lock.acquire(str(tmp_path), os.getpid(), wait=0)
    message = str(err.value)
    assert "pid %d on ctrl-b, AWX job 41" % holder["pid"] in message
    assert "it runs on another host (ctrl-b), which cannot be checked from here" in message
    assert "presumed alive until its lease ends at %s" % lock._iso(now + 3600) in message
    assert "-e mlperf_results_lock_break=%s" % holder["token"] in message
    # the same lock, seen after its lease ended
    _record, replaced = lock.acquire(str(tmp_path), os.getpid(), clock=lambda: now + 3601)
    assert replaced["token"] == holder["token"] and "its lease ended at" in replaced["stale_reason"]


def test_every_awx_job_is_another_container_so_a_failed_job_blocks_only_until_its_lease_ends(tmp_path):
    # same node (boot id, as the kernel is shared), another pod: another host name, another pid namespace
    now = time.time()
    pod = dict(ME, host="automation-job-41-abcde", pid_ns="pid:[4026532999]")
    write_lock(tmp_path, lock.holder_record(1, "training", lease=600, identity=pod, awx={"job_id": "41"}, now=now))
    me = dict(ME, host="automation-job-42-fghij")
    with pytest.raises(lock.LockHeld):
        lock.acquire(str(tmp_path), os.getpid(), identity=me, clock=lambda: now + 599)
    _record, replaced = lock.acquire(str(tmp_path), os.getpid(), identity=me, clock=lambda: now + 601)
    assert replaced["awx"] == {"job_id": "41"}


def test_another_pid_namespace_on_this_host_is_judged_by_its_lease():
    now = time.time()
    container = lock.holder_record(1, lease=60, identity=dict(ME, pid_ns="pid:[1]"), now=now)
    alive, reason = lock.judge(container, ME, now + 30)
    assert alive and "another container (pid namespace)" in reason
    assert lock.judge(container, ME, now + 61)[0] is False


def test_a_holder_from_before_a_reboot_of_this_host_is_stale(tmp_path):
    rebooted = lock.holder_record(os.getpid(), lease=0, identity=dict(ME, boot_id="0" * 32))
    write_lock(tmp_path, rebooted)
    other = sleeper()
    try:
        _record, replaced = lock.acquire(str(tmp_path), other.pid)
    finally:
        other.kill()
        other.wait()
    assert "has rebooted since it took the lock" in replaced["stale_reason"]


def test_without_a_lease_a_foreign_holder_is_held_until_broken_by_its_token(tmp_path):
    old = {"pid": 4242, "host": "ctrl-b", "start_ticks": 1, "since": "2024-01-01T00:00:00+00:00", "purpose": "p"}
    write_lock(tmp_path, old)
    with pytest.raises(lock.LockHeld) as err:
        lock.acquire(str(tmp_path), os.getpid(), clock=lambda: time.time() + 10 * 365 * 86400)
    assert "it has no lease, so it holds the lock until it is released or broken" in str(err.value)
    assert "-e mlperf_results_lock_break=4242@ctrl-b" in str(err.value)
    _record, replaced = lock.acquire(str(tmp_path), os.getpid(), break_token="4242@ctrl-b")
    assert replaced["pid"] == 4242 and "broken on request" in replaced["stale_reason"]


def test_breaking_takes_over_only_the_named_holder(tmp_path):
    live = sleeper()
    try:
        record, _ = lock.acquire(str(tmp_path), live.pid, purpose="hung job")
        with pytest.raises(lock.LockHeld) as err:
            lock.acquire(str(tmp_path), os.getpid(), break_token="deadbeefdeadbeef")
        assert "The lock's token is %s, not the deadbeefdeadbeef given in mlperf_results_lock_break" % \
            record["token"] in str(err.value)
        assert json.loads((tmp_path / lock.LOCK_NAME).read_text())["token"] == record["token"]
        mine, replaced = lock.acquire(str(tmp_path), os.getpid(), break_token=record["token"])
    finally:
        live.kill()
        live.wait()
    assert replaced["token"] == record["token"] and replaced["pid"] == live.pid
    assert mine["token"] != record["token"]
    # the broken holder's release no longer touches the new lock
    assert lock.release(str(tmp_path), token=record["token"])[0] is False
    assert json.loads((tmp_path / lock.LOCK_NAME).read_text())["token"] == mine["token"]


def test_errors_are_lock_errors_with_a_message_not_bare_os_errors(tmp_path):
    with pytest.raises(lock.LockError) as err:
        lock.acquire(str(tmp_path / "missing"), os.getpid())
    assert "does not exist" in str(err.value)
    if os.geteuid() != 0:
        readonly = tmp_path / "ro"
        readonly.mkdir()
        readonly.chmod(0o555)
        with pytest.raises(lock.LockError) as err:
            lock.acquire(str(readonly), os.getpid())
        assert "cannot write the lock" in str(err.value)



def test_a_file_system_without_hard_links_is_named_and_nothing_is_left(tmp_path, monkeypatch):
    def no_links(src, dst):
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(lock.os, "link", no_links)
    with pytest.raises(lock.LockError) as err:
        lock.acquire(str(tmp_path), os.getpid())
    assert "the lock needs a file system that supports hard links" in str(err.value)
    assert os.listdir(str(tmp_path)) == []

# --------------------------------------------------------------------------------- the action, as AWX runs it

ansible_runner = pytest.importorskip("ansible_runner")
from harness.plays import assert_task, run_local_play  # noqa: E402


def run_play(tmp_path, name, tasks, extravars=None, envvars=None):
    return run_local_play(tmp_path / ("runner-" + name), "lock", tasks, extravars, envvars)


# the lock taken on {{ results }}, registered as ``taken``
TAKE = {"name": "Take", "mlperf.storage.results_lock": {"path": "{{ results }}"}, "register": "taken"}


def test_the_action_takes_reports_and_releases_with_its_token_under_awx(tmp_path):
    results = tmp_path / "results"
    result, out = run_play(tmp_path, "awx", """\
        - name: Take
          mlperf.storage.results_lock:
            path: "{{ results }}"
            purpose: training unet3d
            lease: 900
          register: taken
        - name: Take again from the same playbook
          mlperf.storage.results_lock:
            path: "{{ results }}"
            purpose: checkpointing
          register: again
        - name: Write what the lock file says
          ansible.builtin.copy:
            content: "{{ lookup('file', results ~ '/.mlperf-results.lock') }}"
            dest: "{{ results }}/../seen.json"
            mode: "0644"
        - name: Release someone else's token
          mlperf.storage.results_lock:
            path: "{{ results }}"
            state: absent
            token: "0000000000000000"
          register: not_ours
        - name: Release ours
          mlperf.storage.results_lock:
            path: "{{ results }}"
            state: absent
            token: "{{ taken.token }}"
          register: released
        - name: Release again
          mlperf.storage.results_lock:
            path: "{{ results }}"
            state: absent
            token: "{{ taken.token }}"
          register: twice
        - name: Check
          ansible.builtin.assert:
            that:
              - taken.changed and taken.token | length == 16
              - taken.holder.awx.job_id == '77' and taken.holder.awx.template == 'mlperf training'
              - taken.holder.awx.url == 'https://awx.example'
              - taken.holder.lease_seconds == 900 and taken.lease_until == taken.holder.lease_until
              - again.token == taken.token and again.holder.purpose == 'checkpointing'
              - not not_ours.released and not not_ours.changed
              - released.released and released.changed
              - not twice.released and not twice.changed and not twice.failed
        """, {"results": str(results), "awx_job_id": 77, "awx_job_template_name": "mlperf training"},
        {"JOB_ID": "77", "INVENTORY_ID": "1", "AWX_HOST": "https://awx.example"})
    assert result.rc == 0, out
    seen = json.loads((tmp_path / "seen.json").read_text())
    assert seen["awx"]["job_id"] == "77" and seen["purpose"] == "checkpointing"
    assert not (results / lock.LOCK_NAME).exists() and leftovers(results) == []


def test_the_action_refuses_names_the_token_and_breaks_only_with_it(tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    holder = foreign(time.time() + 3600, awx={"job_id": "41"})
    write_lock(results, holder)
    refused, out = run_play(tmp_path, "refused", [TAKE], {"results": str(results)})
    assert refused.rc != 0 and "Traceback" not in out
    assert "is in use by another playbook: pid %d on ctrl-b, AWX job 41" % holder["pid"] in out
    assert "-e mlperf_results_lock_break=%s" % holder["token"] in out
    broken, out = run_play(tmp_path, "broken", [
        TAKE, assert_task("taken.stale_holder.token == holder_token",
                          "'broken on request' in taken.stale_holder.stale_reason"),
    ], {"results": str(results), "holder_token": holder["token"], "mlperf_results_lock_break": holder["token"]})
    assert broken.rc == 0, out
    assert "results lock %s was held by pid %d on ctrl-b" % (results / lock.LOCK_NAME, holder["pid"]) in out
    # the playbook that broke it has ended: its lock is stale for the next one, which takes it over
    after, out = run_play(tmp_path, "after", [TAKE, assert_task("'is gone' in taken.stale_holder.stale_reason")],
                          {"results": str(results)})
    assert after.rc == 0, out


def test_the_action_on_a_full_filesystem_fails_with_a_message_not_a_traceback(tmp_path, full_tmpfs):
    result, out = run_play(tmp_path, "full", [TAKE], {"results": str(full_tmpfs)})
    assert result.rc != 0 and "Traceback" not in out
    assert "results directory %s: no space left to write the lock" % full_tmpfs in out
    assert os.listdir(str(full_tmpfs)) == ["filler"]
