# -*- coding: utf-8 -*-
# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run a benchmark engine as a child process with its output streamed to files.

Target side, standard library only. The engine (usually ``mpirun ... dlio_benchmark ...``) runs in its own
process group so that a timeout, a SIGTERM from Ansible's async wrapper or an interrupted playbook can stop
every rank at once. Its outcome is written atomically to a status file that a poller reads, so a result is
never lost even when the Ansible job that started it is gone.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from datetime import datetime, timezone


def iso_now():
    return datetime.now(timezone.utc).astimezone().isoformat()


def write_json_atomic(path, data):
    tmp = "%s.tmp.%d" % (path, os.getpid())
    with open(tmp, "w") as handle:
        json.dump(data, handle, indent=2, sort_keys=True)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def read_status(path):
    """The status file's content, or None while the engine is still running (or never started)."""
    try:
        with open(path) as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


KILL_GRACE_SECONDS = 10.0


def kill_group(pgid, grace=KILL_GRACE_SECONDS, leader=None):
    """SIGTERM the process group, then SIGKILL whatever is left after `grace` seconds.

    ``leader``: the group leader's Popen when it is our child; it is reaped while waiting, since an unreaped
    (zombie) leader would keep the group "alive" for the whole grace period.
    """
    try:
        os.killpg(pgid, signal.SIGTERM)
    except OSError:
        return
    deadline = time.time() + grace
    while time.time() < deadline:
        if leader is not None:
            leader.poll()
        try:
            os.killpg(pgid, 0)
        except OSError:
            return
        time.sleep(0.2)
    try:
        os.killpg(pgid, signal.SIGKILL)
    except OSError:
        pass


def run_engine(argv, stdout_path, stderr_path, status_path, env=None, cwd=None, timeout=None,
               pid_path=None):
    """Run argv to completion; stream its output to files; write and return the status dict.

    The status records rc, times, and why it ended (exit, timeout, signal). A SIGTERM or SIGINT to this
    process is passed on to the engine's whole process group before the status is written.
    """
    status = {"argv": list(argv), "cwd": cwd, "start": iso_now(), "end": None, "duration_seconds": None,
              "rc": None, "ended_by": None, "pid": None, "stdout": stdout_path, "stderr": stderr_path}
    child_env = dict(os.environ)
    child_env.update(env or {})
    started = time.time()
    with open(stdout_path, "ab", buffering=0) as out, open(stderr_path, "ab", buffering=0) as err:
        try:
            proc = subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=child_env,
                                    cwd=cwd, start_new_session=True)
        except OSError as exc:
            status.update(end=iso_now(), duration_seconds=0.0, rc=127, ended_by="not-started",
                          error="cannot start %s: %s" % (argv[0], exc))
            write_json_atomic(status_path, status)
            return status
        status["pid"] = proc.pid
        if pid_path:
            write_json_atomic(pid_path, {"pid": proc.pid, "pgid": proc.pid, "argv": list(argv),
                                         "start": status["start"]})
        received = []

        def forward(signum, _frame):
            # only record and pass the signal on; the loop below waits, reaps and escalates
            received.append(signum)
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except OSError:
                pass

        previous = {s: signal.signal(s, forward) for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
        ended_by = "exit"
        stop_at = None  # when set: SIGKILL the group if it is still there at that time
        try:
            while True:
                try:
                    rc = proc.wait(timeout=0.5)
                    break
                except subprocess.TimeoutExpired:
                    pass
                now = time.time()
                if timeout and ended_by == "exit" and now - started > timeout:
                    ended_by = "timeout"
                    stop_at = now + KILL_GRACE_SECONDS
                    try:
                        os.killpg(proc.pid, signal.SIGTERM)
                    except OSError:
                        pass
                if received and stop_at is None:
                    stop_at = now + KILL_GRACE_SECONDS
                if stop_at is not None and now > stop_at:
                    try:
                        os.killpg(proc.pid, signal.SIGKILL)
                    except OSError:
                        pass
            if received and ended_by == "exit":
                ended_by = "signal"
            if ended_by != "exit":
                kill_group(proc.pid, grace=KILL_GRACE_SECONDS)  # ranks that outlived their launcher
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
    status.update(end=iso_now(), duration_seconds=round(time.time() - started, 3), rc=rc, ended_by=ended_by)
    if received:
        status["signal"] = received[0]
    write_json_atomic(status_path, status)
    if pid_path:
        try:
            os.unlink(pid_path)
        except OSError:
            pass
    return status
