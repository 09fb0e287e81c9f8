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
import socket
import subprocess
import time
from datetime import datetime, timezone

from ansible_collections.mlperf.storage.plugins.module_utils import _ssh


def iso_now():
    return datetime.now(timezone.utc).astimezone().isoformat()


def write_text_atomic(path, text, mode=None):
    """Write ``text`` to ``path`` through a temporary file and a rename: a reader sees the old file or the new one,
    never half of it."""
    tmp = "%s.tmp.%d" % (path, os.getpid())
    with open(tmp, "w") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    if mode is not None:
        os.chmod(tmp, mode)
    os.replace(tmp, path)


def write_json_atomic(path, data):
    write_text_atomic(path, json.dumps(data, indent=2, sort_keys=True))


def fsync_dir(path):
    """Make a rename or link inside ``path`` durable (fsync of the directory); best effort."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def read_status(path):
    """The status file's content, or None while the engine is still running (or never started)."""
    try:
        with open(path) as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


KILL_GRACE_SECONDS = 10.0

# Every process an engine run starts carries this variable with the run's own identity (a random token made
# when its run directory is reserved). Cleanup signals only processes whose environment carries the token of
# a run it owns: never another playbook's ranks on a shared machine, never a `tail -f` of a log.
RUN_ID_VAR = "MLPERF_STORAGE_RUN_ID"
# The runs of a run set (``_engine_set``) also carry the set's identity: when the launcher is cut off, the
# controller can stop the ranks of whichever run of the set was running without learning its run identity first.
RUN_SET_VAR = "MLPERF_STORAGE_RUN_SET"


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


def touch(path):
    """Create the file or bump its modification time (the controller's heartbeat)."""
    with open(path, "a"):
        pass
    os.utime(path, None)


def heartbeat_age(path, now=None):
    """Seconds since the heartbeat file was last touched (None when it does not exist)."""
    try:
        return (now or time.time()) - os.path.getmtime(path)
    except OSError:
        return None


def run_engine(argv, stdout_path, stderr_path, status_path, env=None, cwd=None, timeout=None,
               pid_path=None, heartbeat_path=None, heartbeat_timeout=None, run_id=None, stop_path=None):
    """Run argv to completion; stream its output to files; write and return the status dict.

    The status records rc, times, and why it ended (exit, timeout, signal, controller-lost). A SIGTERM or
    SIGINT to this process is passed on to the engine's whole process group before the status is written.

    ``heartbeat_path``/``heartbeat_timeout``: the controller touches the file while it follows the run (each
    progress poll); when it has not for ``heartbeat_timeout`` seconds the playbook is gone (interrupted,
    killed, or its connection lost), and nobody would ever stop or collect the engine, so it is stopped.

    ``run_id``: the run's identity, put into the engine's environment as ``RUN_ID_VAR`` (MPI passes it on to
    every rank), so that cleanup can find exactly this run's processes on any host.

    ``stop_path``: a file whose appearance stops the engine (``ended_by=stopped``): the controller asks a run set
    to end (see ``_engine_set``) without signalling a process it would have to identify first.
    """
    status = {"argv": list(argv), "cwd": cwd, "start": iso_now(), "end": None, "duration_seconds": None,
              "rc": None, "ended_by": None, "pid": None, "stdout": stdout_path, "stderr": stderr_path,
              "run_id": run_id}
    child_env = dict(os.environ)
    child_env.update(env or {})
    if run_id:
        child_env[RUN_ID_VAR] = run_id
    started = time.time()
    with open(stdout_path, "ab", buffering=0) as out, open(stderr_path, "ab", buffering=0) as err:
        try:
            proc = subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=child_env,
                                    cwd=cwd, start_new_session=True,
                                    umask=0o022)  # results are never group- or world-writable
        except OSError as exc:
            status.update(end=iso_now(), duration_seconds=0.0, rc=127, ended_by="not-started",
                          error="cannot start %s: %s" % (argv[0], exc))
            write_json_atomic(status_path, status)
            return status
        status["pid"] = proc.pid
        if heartbeat_path:
            touch(heartbeat_path)  # the grace period starts now, not at the controller's first poll
        if pid_path:
            write_json_atomic(pid_path, {"pid": proc.pid, "pgid": proc.pid, "argv": list(argv),
                                         "start": status["start"], "run_id": run_id})
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
                if heartbeat_path and heartbeat_timeout and ended_by == "exit":
                    age = heartbeat_age(heartbeat_path, now)
                    if age is None or age > heartbeat_timeout:
                        ended_by = "controller-lost"
                        status["error"] = ("no progress poll from the controller for %.0f s (limit %s s): the "
                                           "playbook was interrupted or lost its connection; the engine was "
                                           "stopped" % (age or 0, heartbeat_timeout))
                        stop_at = now + KILL_GRACE_SECONDS
                        try:
                            os.killpg(proc.pid, signal.SIGTERM)
                        except OSError:
                            pass
                if stop_path and ended_by == "exit" and os.path.exists(stop_path):
                    ended_by = "stopped"
                    status["error"] = "the controller asked the run to stop (%s)" % stop_path
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
            elif ended_by == "exit" and rc < 0:
                ended_by = "killed"  # by a signal from outside: engine_stop, the OOM killer, an operator
            if ended_by != "exit":
                kill_group(proc.pid, grace=KILL_GRACE_SECONDS)  # ranks that outlived their launcher
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
    if ended_by in ("controller-lost", "stopped") and rc == 0:
        rc = -signal.SIGTERM  # stopped on purpose: never report a cut-short run as a success
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


def _ancestors():
    pids = set()
    pid = os.getpid()
    while pid > 1 and pid not in pids:
        pids.add(pid)
        try:
            with open("/proc/%d/stat" % pid) as handle:
                pid = int(handle.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            break
    return pids


def run_id_of(pid, proc_root="/proc", var=RUN_ID_VAR):
    """The ``var`` value (the run identity by default) in the environment of ``pid`` (None when absent or
    unreadable)."""
    try:
        with open(os.path.join(proc_root, str(pid), "environ"), "rb") as handle:
            environ = handle.read()
    except OSError:
        return None
    prefix = var.encode() + b"="
    for entry in environ.split(b"\0"):
        if entry.startswith(prefix):
            return entry[len(prefix):].decode("utf-8", "replace")
    return None


def processes_carrying(run_ids, proc_root="/proc"):
    """Pids (of this user) whose environment carries one of ``run_ids`` (as the run identity, or as the identity of
    the run set it belongs to), except this process and its ancestors. A token shorter than 8 characters matches
    nothing: it could not be unique to a run."""
    wanted = set(r for r in (run_ids or []) if isinstance(r, str) and len(r) >= 8)
    if not wanted:
        return []
    skip = _ancestors()
    uid = os.getuid()
    found = []
    for name in os.listdir(proc_root):
        if not name.isdigit() or int(name) in skip:
            continue
        try:
            if os.stat(os.path.join(proc_root, name)).st_uid != uid:
                continue
        except OSError:
            continue
        if run_id_of(name, proc_root) in wanted or run_id_of(name, proc_root, RUN_SET_VAR) in wanted:
            found.append(int(name))
    return sorted(found)


def _alive(pid):
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    try:  # a zombie is dead for our purpose
        with open("/proc/%d/stat" % pid) as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def owned_group(info, run_ids, proc_root="/proc"):
    """The engine's process group from its pid file, only when its leader still carries one of ``run_ids``.

    The pid file lies in a user-writable work directory and a pid is reused once its process is gone: a
    group is signalled only when its leader proves it is the run's own engine runner.
    """
    try:
        pgid = int((info or {}).get("pgid"))
    except (TypeError, ValueError):
        return None
    if pgid <= 1:
        return None
    if run_id_of(pgid, proc_root) not in set(run_ids or []):
        return None
    try:
        os.killpg(pgid, 0)
    except OSError:
        return None
    return pgid


def stop_engine(pid_path=None, run_ids=None, grace=KILL_GRACE_SECONDS):
    """Stop what is left of an engine on this host; return what was found and signalled.

    ``pid_path``: the runner's pid file (present only while the engine runs): its process group is stopped
    when its leader carries one of ``run_ids``. ``run_ids``: the identities of the runs to stop; every process
    of this user whose environment carries one is stopped (ranks on other hosts whose launcher is gone).
    SIGTERM first, SIGKILL after ``grace`` seconds.
    """
    found = {"group": None, "processes": [], "killed": []}
    info = read_status(pid_path) if pid_path else None
    found["group"] = owned_group(info, run_ids)
    found["processes"] = processes_carrying(run_ids)
    if found["group"]:
        try:
            os.killpg(found["group"], signal.SIGTERM)
        except OSError:
            pass
    for pid in found["processes"]:
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            pass
    deadline = time.time() + grace
    pending = list(found["processes"])
    while time.time() < deadline:
        pending = [pid for pid in pending if _alive(pid)]
        group_alive = False
        if found["group"]:
            try:
                os.killpg(found["group"], 0)
                group_alive = True
            except OSError:
                group_alive = False
        if not pending and not group_alive:
            break
        time.sleep(0.2)
    else:
        if found["group"]:
            try:
                os.killpg(found["group"], signal.SIGKILL)
            except OSError:
                pass
        for pid in pending:
            try:
                os.kill(pid, signal.SIGKILL)
                found["killed"].append(pid)
            except OSError:
                pass
    return found


def peer_reachable(host, port=22, timeout=3.0):
    """(True, "") when a TCP connection to host:port opens, else (False, why)."""
    try:
        conn = socket.create_connection((host, port), timeout=timeout)
    except socket.timeout:
        return False, "connection to port %d timed out" % port
    except OSError as exc:
        return False, "port %d: %s" % (port, exc.strerror or exc)
    conn.close()
    return True, ""


def lost_peers(peers, state_path, lost_after, port=22, timeout=3.0, now=None, probe=peer_reachable):
    """Probe every peer; return {peer name: why} for those unreachable for at least ``lost_after`` seconds.

    ``peers``: names (probed on ``port``) or ``{name, hostname, port}`` targets, as resolved where MPI runs
    (see ``_ssh.ssh_target``): the address and port that SSH, and so MPI, really uses for each peer.

    When a client drops off the network, MPI ranks waiting on it block forever (TCP sends nothing to notice),
    so the launcher watches the clients itself. The first failure time of each peer is kept in ``state_path``
    across polls, so one dropped packet does not end a run.
    """
    now = now or time.time()
    state = read_status(state_path) or {}
    lost = {}
    for peer in peers:
        if isinstance(peer, dict):
            name, host, peer_port = peer["name"], peer.get("hostname") or peer["name"], int(peer.get("port") or port)
        else:
            name, host, peer_port = peer, peer, port
        ok, why = probe(host, peer_port, timeout)
        if ok:
            state.pop(name, None)
            continue
        first = state.setdefault(name, now)
        if now - first >= lost_after:
            where = "" if host == name else "at %s: " % host
            lost[name] = "%s%s for %.0f s" % (where, why, now - first)
    write_json_atomic(state_path, state)
    return lost


def peer_targets(peers, cache_path, default_port, resolve=None):
    """[{name, hostname, port}] for the peers, resolved as SSH would once and then read from ``cache_path``.

    ``peers``: names MPI uses, or ``{name, host}`` (inventory name, name MPI uses). ValueError for anything else.
    """
    if resolve is None:
        resolve = _ssh.ssh_target
    wanted = []
    for peer in peers:
        if isinstance(peer, dict) and peer.get("name"):
            wanted.append((str(peer["name"]), str(peer.get("host") or peer["name"])))
        elif isinstance(peer, str) and peer:
            wanted.append((peer, peer))
        else:
            raise ValueError("each peer must be a name or a dict with name and host, got %r" % (peer,))
    cached = read_status(cache_path) or {}
    targets = []
    changed = False
    for name, host in wanted:
        key = "%s@%s" % (name, host)
        if key not in cached:
            target = resolve(host)
            if target["source"] == "default":
                target["port"] = default_port
            cached[key] = target
            changed = True
        targets.append(dict(cached[key], name=name))
    if changed:
        write_json_atomic(cache_path, cached)
    return targets


# Options of the modules that start an engine (engine_run, engine_run_set): what runs, where, how long, watched how.
RUN_OPTIONS = dict(
    argv=dict(type="list", elements="str", required=True),
    pid_file=dict(type="path"),
    chdir=dict(type="path"),
    env=dict(type="dict", default={}),
    timeout=dict(type="int", default=0),
    heartbeat_file=dict(type="path"),
    heartbeat_timeout=dict(type="int", default=0),
)


# Options of the modules that follow a running engine from the controller's polls (engine_wait, engine_set_wait).
WATCH_OPTIONS = dict(
    epochs=dict(type="int"),
    wait=dict(type="float", default=15),
    heartbeat_file=dict(type="path"),
    peers=dict(type="list", elements="raw", default=[]),
    peer_port=dict(type="int", default=22),
    peer_lost_after=dict(type="float", default=20),
)



def runner_module(status_option, id_option, watcher, **options):
    """The AnsibleModule of a task that starts an engine (engine_run, engine_run_set): RUN_OPTIONS and its own
    ``options``. It refuses a status file (option ``status_option``) that exists, since a run never reuses another's
    status, an identity (option ``id_option``) too short to be unique, and a heartbeat timeout without the
    heartbeat file the ``watcher`` module touches."""
    from ansible.module_utils.basic import AnsibleModule  # the detached engine runner imports this file without it
    module = AnsibleModule(argument_spec=dict(RUN_OPTIONS, **options), supports_check_mode=False)
    p = module.params
    if os.path.exists(p[status_option]):
        module.fail_json(msg="%s already exists: a run (or run set) never reuses the status of another; each gets a "
                             "new run directory" % p[status_option])
    if p["heartbeat_timeout"] and not p["heartbeat_file"]:
        module.fail_json(msg="heartbeat_timeout is %s but heartbeat_file is not set; give the file that %s touches, "
                             "or set heartbeat_timeout: 0" % (p["heartbeat_timeout"], watcher))
    if p[id_option] is not None and len(p[id_option]) < 8:
        module.fail_json(msg="%s '%s' is too short to be unique (at least 8 characters): processes are found and "
                             "stopped by it" % (id_option, p[id_option]))
    return module


def watcher_module(**options):
    """The AnsibleModule of a task that follows a running engine (engine_wait, engine_set_wait): WATCH_OPTIONS and
    its own ``options``; it only reads, so it runs in check mode as it does otherwise."""
    from ansible.module_utils.basic import AnsibleModule
    return AnsibleModule(argument_spec=dict(WATCH_OPTIONS, **options), supports_check_mode=True)

def watch(params, read, done, check_mode=False):
    """``read()`` again every half second, for up to ``params["wait"]`` seconds, until ``done`` of what it read;
    the heartbeat file is touched meanwhile (the engine stops itself when the polls stop). Returns the last read.
    ValueError when peers are to be watched without a heartbeat file."""
    if params["peers"] and not params["heartbeat_file"]:
        raise ValueError("they need heartbeat_file: the times peers were first found unreachable are kept next to "
                         "it between polls")
    began = time.time()
    value = read()
    while not done(value) and time.time() - began < params["wait"]:
        if params["heartbeat_file"] and not check_mode:
            touch(params["heartbeat_file"])
        time.sleep(0.5)
        value = read()
    return value


def lost_clients(params, where):
    """(message, sorted names) for the peers lost for longer than ``peer_lost_after``, or None. ValueError names a
    peer that is neither a name nor a {name, host} dict."""
    if not params["peers"]:
        return None
    targets = peer_targets(params["peers"], params["heartbeat_file"] + ".targets", params["peer_port"])
    lost = lost_peers(targets, params["heartbeat_file"] + ".peers", params["peer_lost_after"], port=params["peer_port"])
    if not lost:
        return None
    return ("%s: lost client(s) %s while the engine runs (%s); the run cannot complete" % (
        where, ", ".join(sorted(lost)), "; ".join("%s: %s" % kv for kv in sorted(lost.items()))), sorted(lost))


def fail_if_clients_lost(module, where, result):
    """End the task (``module.fail_json`` with ``result``) when a watched peer is lost or cannot be watched; the
    lost names are returned in C(lost_peers)."""
    try:
        lost = lost_clients(module.params, where)
    except ValueError as exc:
        module.fail_json(msg="peers: %s" % exc, **result)
    if lost:
        module.fail_json(msg=lost[0], lost_peers=lost[1], **result)
