# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One playbook at a time per results directory: an exclusive lock file with stale-holder detection.

The holder is recorded as pid + host + the process's start time (from /proc), so a lock left by a playbook that
was killed (or a pid that the kernel reused for another process) is recognised as stale on the holder's host.
A lock held from another host cannot be checked from here and is only ever reported, never broken.
"""
from __future__ import annotations

import json
import os
import socket
import time
from datetime import datetime, timezone

LOCK_NAME = ".mlperf-results.lock"


class LockHeld(Exception):
    """Another live playbook holds the lock; ``holder`` is its record."""

    def __init__(self, path, holder, waited):
        self.path = path
        self.holder = holder
        self.waited = waited
        super().__init__(describe_refusal(path, holder, waited))


def process_start_ticks(pid, proc_root="/proc"):
    """Start time of ``pid`` in clock ticks since boot (None when it does not exist, has exited (zombie) or
    /proc is absent)."""
    try:
        with open(os.path.join(proc_root, str(pid), "stat")) as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        return None if fields[0] in ("Z", "X") else int(fields[19])
    except (OSError, ValueError, IndexError):
        return None


def holder_record(pid, purpose="", host=None):
    return {"pid": int(pid), "host": host or socket.gethostname(), "start_ticks": process_start_ticks(pid),
            "since": datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds"), "purpose": purpose}


def holder_is_alive(holder, host=None, proc_root="/proc"):
    """True when the holder may still be running: always for another host (it cannot be checked)."""
    if holder.get("host") != (host or socket.gethostname()):
        return True
    try:
        pid = int(holder.get("pid"))
    except (TypeError, ValueError):
        return False
    ticks = process_start_ticks(pid, proc_root)
    if ticks is None:
        return False
    # the same pid with another start time is a different process: the holder is gone
    return holder.get("start_ticks") in (None, ticks)


def describe_refusal(path, holder, waited):
    return ("results directory %s is in use by another playbook: pid %s on %s (%s) since %s holds %s%s. "
            "Wait for it to finish, or point mlperf_controller_results_dir elsewhere; raise mlperf_results_lock_wait "
            "to queue behind it. If that process is gone and it ran on another host, remove %s by hand."
            % (os.path.dirname(path), holder.get("pid"), holder.get("host"), holder.get("purpose") or "no purpose",
               holder.get("since"), path, (" (waited %.0f s)" % waited) if waited >= 1 else "", path))


def _read(path):
    try:
        with open(path) as handle:
            data = json.load(handle)
        return data if isinstance(data, dict) else {}
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {}  # unreadable or half-written: treated as a holder we cannot identify


def acquire(directory, pid, purpose="", wait=0.0, poll=1.0, host=None, proc_root="/proc", sleep=time.sleep):
    """Take the lock in ``directory`` for ``pid``; return (record, stale_record_replaced_or_None).

    Waits up to ``wait`` seconds for a live holder; raises LockHeld after that. Re-entrant for the same pid.
    """
    path = os.path.join(directory, LOCK_NAME)
    record = holder_record(pid, purpose, host)
    began = time.time()
    replaced = None
    while True:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            holder = _read(path)
            if holder is None:
                continue  # released between our open and read
            if holder.get("pid") == record["pid"] and holder.get("host") == record["host"] \
                    and holder.get("start_ticks") == record["start_ticks"]:
                return holder, None
            if holder and not holder_is_alive(holder, host, proc_root):
                replaced = holder
                try:
                    os.unlink(path)
                except FileNotFoundError:
                    pass
                continue
            waited = time.time() - began
            if waited >= wait:
                raise LockHeld(path, holder or {"pid": "?", "host": "?", "since": "?"}, waited)
            sleep(min(poll, max(0.05, wait - waited)))
            continue
        with os.fdopen(fd, "w") as handle:
            json.dump(record, handle, indent=2, sort_keys=True)
        return record, replaced


def release(directory, pid, host=None):
    """Remove the lock if ``pid`` holds it; return True when removed, False when someone else holds it or none."""
    path = os.path.join(directory, LOCK_NAME)
    holder = _read(path)
    if not holder or holder.get("pid") != int(pid) or holder.get("host") != (host or socket.gethostname()):
        return False
    os.unlink(path)
    return True
