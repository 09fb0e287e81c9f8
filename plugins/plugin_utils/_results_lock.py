# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One playbook at a time per results directory: an exclusive lock file whose holder can be judged alive or stale.

How the file is written and replaced (so that it is never seen empty or half-written, and of several processes
racing for it exactly one wins):

* the full record is written to a temporary file beside the lock, flushed to disk, then hard-linked to the lock
  name; ``link`` fails when the name exists, so taking a free lock is one atomic step;
* a lock is replaced (stale holder taken over, own lease renewed) or removed (release) only by the process that
  holds the *break marker* of the exact file it judged: a second hard link ``<lock>.break-<inode>`` to that file.
  Creating the marker is exclusive, its inode is checked against the one that was read, and while it exists
  nobody else can change the lock name (takers need the name free, replacers need the marker). The replacement
  itself is one ``rename`` of the new record over the lock name.

Who holds it: the running ``ansible-playbook`` process, recorded as pid + process start time + boot id + pid
namespace + host name (+ machine id), with the user, the purpose, the AWX job when there is one, the time it was
taken and a lease. Liveness, from the process that finds the lock held:

* same host, same boot, same pid namespace: alive while that pid runs with the recorded start time;
* same host, another boot: stale (the machine rebooted);
* another host or another container (pid namespace): cannot be checked, alive until its lease ends
  (no lease: until released or broken);
* a lock file that cannot be read as a record (empty, garbage, an older writer's leftover) is stale once it is
  older than a short grace period.

An operator who knows a holder is dead clears it with its token (``break_token``); nothing else breaks a live lock.
"""
from __future__ import annotations

import errno
import getpass
import glob
import json
import os
import random
import secrets
import socket
import time
from datetime import datetime, timezone

from ansible_collections.mlperf.storage.plugins.module_utils._engine import fsync_dir

LOCK_NAME = ".mlperf-results.lock"
FORMAT_VERSION = 2
# the lease when the caller gives none: a holder that cannot be checked is presumed alive this long
DEFAULT_LEASE = 12 * 3600
# a lock file that is not a readable record is stale once it is this old (a writer of the older format
# created the file and wrote it in two steps; nothing takes longer than this between them)
UNREADABLE_GRACE = 30.0
# a break marker older than this was left by a process that died between two system calls
MARKER_GRACE = 10.0
# temporary record files older than this were left by a process that died before it linked them
TEMP_MAX_AGE = 3600.0
BREAK_VARIABLE = "mlperf_results_lock_break"
NO_SPACE = (errno.ENOSPC, errno.EDQUOT)
NO_LINKS = (errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.ENOSYS)

# test hook: called between judging a holder stale and replacing it (widens the race window in tests)
_before_takeover = None


class LockError(Exception):
    """The lock could not be taken or inspected; the message says why and what to do."""


class LockHeld(LockError):
    """Another live playbook holds the lock; ``holder`` is its record, ``reason`` why it counts as alive."""

    def __init__(self, path, holder, waited, reason="", break_token=None):
        self.path = path
        self.holder = holder
        self.waited = waited
        self.reason = reason
        super().__init__(describe_refusal(path, holder, waited, reason, break_token))


# ---------------------------------------------------------------------------------------------------------------
# identity of this process and machine


def process_start_ticks(pid, proc_root="/proc"):
    """Start time of ``pid`` in clock ticks since boot (None when it does not exist, has exited (zombie) or
    /proc is absent)."""
    try:
        with open(os.path.join(proc_root, str(pid), "stat")) as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        return None if fields[0] in ("Z", "X") else int(fields[19])
    except (OSError, ValueError, IndexError):
        return None


def _read_first_line(path):
    try:
        with open(path) as handle:
            return handle.readline().strip() or None
    except (OSError, UnicodeDecodeError):
        return None


MACHINE_ID_FILES = ("/etc/machine-id", "/var/lib/dbus/machine-id")


def local_identity(proc_root="/proc", machine_id_files=MACHINE_ID_FILES):
    """What names this machine and boot: host name, boot id, machine id (when readable), pid namespace."""
    try:
        pid_ns = os.readlink(os.path.join(proc_root, "self", "ns", "pid"))
    except OSError:
        pid_ns = None
    return {
        "host": socket.gethostname(),
        "boot_id": _read_first_line(os.path.join(proc_root, "sys", "kernel", "random", "boot_id")),
        "machine_id": next(filter(None, map(_read_first_line, machine_id_files)), None),
        "pid_ns": pid_ns,
    }


def current_user():
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry (a container with an arbitrary uid)
        return "uid %d" % os.getuid()


def awx_identity(env=None, extra_vars=None):
    """The AWX / Automation Controller job this playbook runs as, or {} outside AWX.

    AWX passes the job as extra variables (``awx_job_id`` and its older alias ``tower_job_id``, with
    ``awx_job_template_name``, ``awx_user_name``) and sets ``JOB_ID`` with ``INVENTORY_ID`` and ``AWX_HOST``
    in the environment of ``ansible-playbook``. ``JOB_ID`` alone is not trusted: batch schedulers set it too.
    """
    env = os.environ if env is None else env
    extra_vars = extra_vars or {}

    def first(*names, source):
        for name in names:
            value = source.get(name)
            if value not in (None, ""):
                return "%s" % value
        return None

    job_id = first("awx_job_id", "tower_job_id", source=extra_vars)
    if job_id is None and env.get("JOB_ID") and (env.get("AWX_HOST") or env.get("INVENTORY_ID")):
        job_id = "%s" % env["JOB_ID"]
    if job_id is None:
        return {}
    awx = {"job_id": job_id,
           "url": env.get("AWX_HOST") or None,
           "template": first("awx_job_template_name", "tower_job_template_name", source=extra_vars),
           "launched_by": first("awx_user_name", "tower_user_name", source=extra_vars)}
    return {key: value for key, value in awx.items() if value is not None}


def _iso(epoch):
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, timezone.utc).astimezone().isoformat(timespec="seconds")


def holder_record(pid, purpose="", host=None, lease=DEFAULT_LEASE, awx=None, user=None, identity=None,
                  proc_root="/proc", now=None, token=None):
    """The record a holder writes. ``lease`` seconds (0 or None: no expiry) bound how long a holder that cannot
    be checked (another host or container) is presumed alive."""
    identity = dict(identity or local_identity(proc_root))
    if host:
        identity["host"] = host
    now = time.time() if now is None else now
    lease_until = now + lease if lease else None
    return {"version": FORMAT_VERSION, "token": token or secrets.token_hex(8), "pid": int(pid),
            "start_ticks": process_start_ticks(pid, proc_root), "host": identity.get("host"),
            "boot_id": identity.get("boot_id"), "machine_id": identity.get("machine_id"),
            "pid_ns": identity.get("pid_ns"), "user": user or current_user(), "purpose": purpose or "",
            "awx": dict(awx or {}), "since": _iso(now), "since_epoch": round(now, 3),
            "lease_seconds": int(lease or 0), "lease_until": _iso(lease_until),
            "lease_until_epoch": round(lease_until, 3) if lease_until else None}


def holder_token(holder):
    """The token that names this holder for ``break_token``; a record of the older format (without one) is named
    ``<pid>@<host>``."""
    if not holder:
        return None
    return holder.get("token") or "%s@%s" % (holder.get("pid"), holder.get("host"))


# ---------------------------------------------------------------------------------------------------------------
# liveness


def _differs(holder, me, key):
    return bool(holder.get(key)) and bool(me.get(key)) and holder.get(key) != me.get(key)


def _lease_rule(holder, now, where):
    until = holder.get("lease_until_epoch")
    if until is None:
        return True, "%s; it has no lease, so it holds the lock until it is released or broken" % where
    try:
        until = float(until)
    except (TypeError, ValueError):
        return False, "%s, and its lease end %r is not a time" % (where, until)
    if now >= until:
        return False, "%s, and its lease ended at %s" % (where, _iso(until))
    return True, "%s; it is presumed alive until its lease ends at %s" % (where, _iso(until))


def judge(holder, me, now=None, proc_root="/proc"):
    """(alive, reason) for a readable holder record, seen from a process with identity ``me``."""
    now = time.time() if now is None else now
    if holder.get("host") != me.get("host") or _differs(holder, me, "machine_id"):
        return _lease_rule(holder, now, "it runs on another host (%s), which cannot be checked from here"
                           % holder.get("host"))
    if _differs(holder, me, "boot_id"):
        return False, "its host %s has rebooted since it took the lock" % holder.get("host")
    if _differs(holder, me, "pid_ns"):
        return _lease_rule(holder, now, "it runs in another container (pid namespace) on %s, whose processes "
                                        "cannot be checked from here" % holder.get("host"))
    try:
        pid = int(holder.get("pid"))
    except (TypeError, ValueError):
        return False, "its pid %r is not a number" % (holder.get("pid"),)
    ticks = process_start_ticks(pid, proc_root)
    if ticks is None:
        return False, "its process %d on %s is gone" % (pid, holder.get("host"))
    if holder.get("start_ticks") not in (None, ticks):
        return False, "pid %d on %s is now another process (started later than the holder)" % (pid,
                                                                                               holder.get("host"))
    return True, "its process %d is running on this host" % pid


def _same_process(holder, record):
    return all(holder.get(key) == record.get(key) for key in ("pid", "host", "start_ticks")) \
        and not _differs(holder, record, "boot_id") and not _differs(holder, record, "pid_ns")


# ---------------------------------------------------------------------------------------------------------------
# messages


def _who(holder):
    if not holder:
        return "an unreadable lock file"
    awx = holder.get("awx") or {}
    parts = ["pid %s on %s" % (holder.get("pid"), holder.get("host"))]
    if awx.get("job_id"):
        job = "AWX job %s" % awx["job_id"]
        if awx.get("template"):
            job += " (%s)" % awx["template"]
        if awx.get("url"):
            job += " at %s/#/jobs/playbook/%s" % (awx["url"].rstrip("/"), awx["job_id"])
        parts.append(job)
    if holder.get("user"):
        parts.append("user %s" % holder["user"])
    parts.append("for %s" % (holder.get("purpose") or "no stated purpose"))
    parts.append("since %s" % holder.get("since"))
    if holder.get("lease_until"):
        parts.append("lease until %s" % holder["lease_until"])
    elif holder.get("version"):
        parts.append("no lease")
    return ", ".join(parts)


def describe_refusal(path, holder, waited, reason="", break_token=None):
    directory = os.path.dirname(path)
    if not holder:
        return ("results directory %s is in use by another playbook: %s is not a readable lock record (%s). "
                "It is treated as stale %d s after it was last written; or delete %s by hand."
                % (directory, path, reason or "empty or not JSON", UNREADABLE_GRACE, path))
    token = holder_token(holder)
    message = "results directory %s is in use by another playbook: %s%s." % (
        directory, _who(holder), (" (waited %.0f s)" % waited) if waited >= 1 else "")
    if reason:
        message += " It counts as alive because %s." % reason
    if break_token:
        message += " The lock's token is %s, not the %s given in %s, so it was left alone." % (
            token, break_token, BREAK_VARIABLE)
    message += (" To clear it: wait for it to finish (mlperf_results_lock_wait: <seconds> queues behind it); "
                "if that playbook is dead, run again with -e %s=%s (takes over this holder's lock and no other); "
                "or delete %s by hand; or point mlperf_controller_results_dir elsewhere."
                % (BREAK_VARIABLE, token, path))
    return message


def _no_space(directory, exc):
    return LockError("results directory %s: no space left to write the lock (%s); free space there (or raise the "
                     "quota) or point mlperf_controller_results_dir elsewhere" % (directory, exc.strerror or exc))


def _os_failure(directory, what, exc):
    if exc.errno in NO_SPACE:
        return _no_space(directory, exc)
    return LockError("results directory %s: cannot %s the lock %s: %s"
                     % (directory, what, os.path.join(directory, LOCK_NAME), exc))


# ---------------------------------------------------------------------------------------------------------------
# file operations


def lock_path(directory):
    return os.path.join(directory, LOCK_NAME)


def _unlink_quiet(path):
    try:
        os.unlink(path)
    except OSError:
        pass


def _write_temp(directory, record, name=None):
    """Write ``record`` completely to a new file beside the lock and flush it to disk; its path."""
    temp = os.path.join(directory, "%s.%s.%d.tmp" % (LOCK_NAME, name or record["token"], os.getpid()))
    data = (json.dumps(record, indent=2, sort_keys=True) + "\n").encode()
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except OSError as exc:
        raise _os_failure(directory, "write", exc) from None
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        _unlink_quiet(temp)
        raise _os_failure(directory, "write", exc) from None
    return temp


def _read_lock(path):
    """(stat, record or None when not a readable record, raw text) of the lock file, or None when there is none.
    The stat is of the very file that was read."""
    try:
        with open(path, "rb") as handle:
            st = os.fstat(handle.fileno())
            raw = handle.read(65536)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise _os_failure(os.path.dirname(path), "read", exc) from None
    text = raw.decode("utf-8", "replace")
    try:
        record = json.loads(text)
    except ValueError:
        record = None
    if not isinstance(record, dict) or "pid" not in record:
        record = None
    return st, record, text


def _exclusive(path, inode, action):
    """Run ``action`` while holding the break marker of the lock file with ``inode``; False (nothing done) when
    the lock is no longer that file or another process is replacing it."""
    marker = "%s.break-%d" % (path, inode)
    try:
        os.link(path, marker)
    except FileExistsError:
        try:
            age = time.time() - os.lstat(marker).st_ctime
        except OSError:
            return False
        if age > MARKER_GRACE:  # left by a process that died between two calls
            _unlink_quiet(marker)
        return False
    except FileNotFoundError:
        return False
    try:
        if os.lstat(marker).st_ino != inode:
            return False  # the lock is already another file
        action()
        return True
    finally:
        _unlink_quiet(marker)


def _sweep_temps(directory):
    now = time.time()
    for temp in glob.glob(os.path.join(glob.escape(directory), LOCK_NAME + ".*.tmp")):
        try:
            if now - os.lstat(temp).st_mtime > TEMP_MAX_AGE:
                os.unlink(temp)
        except OSError:
            pass


# ---------------------------------------------------------------------------------------------------------------
# acquire / release


def acquire(directory, pid, purpose="", wait=0.0, poll=1.0, host=None, proc_root="/proc", sleep=time.sleep,
            lease=DEFAULT_LEASE, break_token=None, awx=None, user=None, identity=None, clock=time.time,
            grace=UNREADABLE_GRACE):
    """Take the lock in ``directory`` for the process ``pid``; return (record, replaced).

    ``replaced`` is None, or the record of the stale holder that was taken over with its ``stale_reason`` (an
    unreadable lock file is reported as ``{"unreadable": ...}``). Waits up to ``wait`` seconds for a live holder,
    then raises LockHeld. Re-entrant for the same process: it gets its existing record back (same token) with
    purpose and lease renewed. ``break_token`` takes over the lock whose token it is, alive or not.
    Raises LockError (never a bare OSError) when the directory cannot hold a lock (no space, read-only, ...).
    """
    directory = os.path.abspath(directory)
    path = lock_path(directory)
    me = dict(identity or local_identity(proc_root))
    if host:
        me["host"] = host
    if not os.path.isdir(directory):
        raise LockError("results directory %s does not exist, so it cannot be locked" % directory)
    token = secrets.token_hex(8)
    began = clock()
    contention_limit = max(float(wait), 0.0) + MARKER_GRACE + 5.0

    while True:
        record = holder_record(pid, purpose, lease=lease, awx=awx, user=user, identity=me, proc_root=proc_root,
                               now=clock(), token=token)
        temp = _write_temp(directory, record)
        try:
            outcome = _attempt(path, temp, record, me, clock(), proc_root, break_token, grace)
        finally:
            _unlink_quiet(temp)
        kind = outcome[0]
        if kind == "won":
            fsync_dir(directory)
            _sweep_temps(directory)
            return outcome[1], outcome[2]
        waited = clock() - began
        if kind == "held":
            _kind, holder, reason = outcome
            if waited >= wait:
                raise LockHeld(path, holder, waited, reason,
                               break_token if break_token and holder else None)
            sleep(min(poll, max(0.05, wait - waited)))
        else:  # "retry": the lock changed under us or another process is replacing it
            if waited >= contention_limit:
                raise LockError("results directory %s: could not take the lock %s: it kept changing for %.0f s "
                                "(other playbooks starting at the same time?); try again" % (directory, path, waited))
            sleep(random.uniform(0.002, 0.02))


def _attempt(path, temp, record, me, now, proc_root, break_token, grace):
    directory = os.path.dirname(path)
    try:
        os.link(temp, path)
        return "won", record, None
    except FileExistsError:
        try:  # a link whose reply was lost (NFS) reports EEXIST although it was done
            if os.lstat(path).st_ino == os.lstat(temp).st_ino:
                return "won", record, None
        except OSError:
            pass
    except OSError as exc:
        if exc.errno in NO_LINKS:
            raise LockError("results directory %s: cannot write the lock %s: %s; the lock needs a file system that "
                            "supports hard links (point mlperf_controller_results_dir to one)"
                            % (directory, path, exc)) from None
        raise _os_failure(directory, "write", exc) from None

    current = _read_lock(path)
    if current is None:
        return ("retry",)
    st, holder, raw = current

    if holder is None:
        age = now - st.st_mtime
        if age < grace:
            return "held", None, "written %.0f s ago, %s" % (max(age, 0), "empty" if not raw.strip() else
                                                            "not a lock record")
        replaced = {"unreadable": raw[:200], "stale_reason": "the lock file is %s and was last written %.0f s ago"
                    % ("empty" if not raw.strip() else "not a readable lock record", age)}
    elif _same_process(holder, record):
        renewed = dict(holder, purpose=record["purpose"] or holder.get("purpose", ""),
                       lease_seconds=record["lease_seconds"], lease_until=record["lease_until"],
                       lease_until_epoch=record["lease_until_epoch"], awx=holder.get("awx") or record["awx"])
        if renewed == holder:
            return "won", holder, None
        renewed_temp = _write_temp(directory, renewed, name="%s-renew" % record["token"])
        try:
            if _exclusive(path, st.st_ino, lambda: os.rename(renewed_temp, path)):
                return "won", renewed, None
        except OSError as exc:
            raise _os_failure(directory, "renew", exc) from None
        finally:
            _unlink_quiet(renewed_temp)
        return ("retry",)
    elif break_token and holder_token(holder) == break_token:
        replaced = dict(holder, stale_reason="broken on request: %s named its token" % BREAK_VARIABLE)
    else:
        alive, reason = judge(holder, me, now, proc_root)
        if alive:
            return "held", holder, reason
        replaced = dict(holder, stale_reason=reason)

    if _before_takeover is not None:
        _before_takeover()
    try:
        if _exclusive(path, st.st_ino, lambda: os.rename(temp, path)):
            return "won", record, replaced
    except OSError as exc:
        raise _os_failure(directory, "replace", exc) from None
    return ("retry",)


def release(directory, token=None, pid=None, host=None, proc_root="/proc", identity=None):
    """Remove the lock if it is ours: its token is ``token`` or, without a token, its holder is the process
    ``pid`` on this host. Returns (released, message, holder_found). Idempotent; never raises."""
    try:
        return _release(directory, token, pid, host, proc_root, identity)
    except Exception as exc:  # a failed release must never hide the outcome of the playbook
        return False, "could not release the lock in %s: %s" % (directory, exc), None


def _release(directory, token, pid, host, proc_root, identity):
    path = lock_path(os.path.abspath(directory))
    for _attempt_no in range(50):
        current = _read_lock(path)
        if current is None:
            return False, "no lock in %s (already released)" % directory, None
        st, holder, _raw = current
        if holder is None:
            return False, "%s is not a readable lock record; left alone" % path, None
        if token:
            ours = holder_token(holder) == token
        elif pid is not None:
            me = dict(identity or local_identity(proc_root))
            if host:
                me["host"] = host
            ours = _same_process(holder, {"pid": int(pid), "host": me.get("host"),
                                          "start_ticks": process_start_ticks(pid, proc_root),
                                          "boot_id": me.get("boot_id"), "pid_ns": me.get("pid_ns")})
        else:
            ours = False
        if not ours:
            return False, "the lock in %s is held by someone else (%s); left alone" % (directory, _who(holder)), holder
        if _exclusive(path, st.st_ino, lambda: os.unlink(path)):
            return True, "released %s" % path, holder
        time.sleep(random.uniform(0.002, 0.02))
    return False, "the lock %s kept changing; left alone" % path, None
