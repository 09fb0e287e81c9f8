# -*- coding: utf-8 -*-
# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run a set of engine runs back to back on the launcher, each in its own new run directory.

Target side, standard library only. One Ansible job runs the N runs of a run set: for each run it reserves a new
run directory exactly as ``mlperf.storage.run_dir`` does (same names, same identity), switches the phase label the
launcher's sampler reads, runs the engine exactly as ``mlperf.storage.engine_run`` does (``_engine.run_engine``:
same status file, logs, process group, heartbeat and run identity) and records what happened in a set status file
that the controller polls. The idle time between two runs is this loop's own, not Ansible round trips.

The set stops at the first run that does not end with exit code 0, when the controller asks it to (stop file) or
when the controller stopped polling (heartbeat): later runs are never started, and the set status names them.
"""
from __future__ import annotations

import os
import secrets
import time

from ansible_collections.mlperf.storage.plugins.module_utils import _engine, _results

SET_SCHEMA = "mlperf-storage-run-set/1"
RUN_DIR_TOKEN = "@RUN_DIR@"
ENGINE_STATUS_NAME = ".engine-status.json"


def new_run_id(stamp):
    """The identity of a run reserved at ``stamp`` (as mlperf.storage.run_dir makes it)."""
    return "%s-%s" % (stamp, secrets.token_hex(8))


def write_phase(paths, phase):
    """Write the phase label into every file of ``paths`` (best effort: a label file is telemetry, not the run)."""
    for path in paths or ():
        try:
            tmp = "%s.tmp.%d" % (path, os.getpid())
            with open(tmp, "w") as handle:
                handle.write("%s\n" % phase)
            os.replace(tmp, path)
        except OSError:
            pass


def not_started(status):
    """Run numbers of the set that were never started."""
    started = set(r["number"] for r in status["runs"])
    return [n for n in range(1, status["runs_planned"] + 1) if n not in started]


def run_set(base, runs, argv, stdout_name, stderr_name, set_status_path, env=None, cwd=None, timeout=None,
            pid_template=None, heartbeat_path=None, heartbeat_timeout=None, stop_path=None, phase_files=None,
            phase_prefix="run", set_id=None, reserve=None, engine=None, clock=time.time):
    """Run ``runs`` engine runs back to back; write and return the set status.

    ``argv``: the engine command with ``@RUN_DIR@`` where each run's directory goes. ``stdout_name`` and
    ``stderr_name``: log names inside each run directory. ``pid_template``: the per-run pid file with ``%s`` for
    the run's timestamp. ``phase_files``: label files of samplers on this host, set to ``<phase_prefix>_<ts>`` when
    a run starts (the label telemetry gives a run today). ``set_id``: the set's identity, put into every engine's
    environment as ``_engine.RUN_SET_VAR`` next to its run identity. ``reserve``/``engine``: injectable for tests.
    """
    reserve = reserve or _results.reserve_run_dir
    engine = engine or _engine.run_engine
    if set_id:
        env = dict(env or {}, **{_engine.RUN_SET_VAR: set_id})
    status = {"schema": SET_SCHEMA, "set_id": set_id, "base": base, "runs_planned": int(runs), "runs": [], "state": "running",
              "start": _engine.iso_now(), "end": None, "stopped_by": None, "failed_run": None, "error": None,
              "not_started": []}

    def save():
        _engine.write_json_atomic(set_status_path, status)

    save()
    for number in range(1, int(runs) + 1):
        if stop_path and os.path.exists(stop_path):
            status.update(stopped_by="stop-file", error="the controller asked the run set to stop before run %d"
                          % number)
            break
        if heartbeat_path and heartbeat_timeout:
            age = _engine.heartbeat_age(heartbeat_path)
            if number > 1 and (age is None or age > heartbeat_timeout):
                status.update(stopped_by="controller-lost",
                              error="no progress poll from the controller for %.0f s (limit %s s) before run %d: "
                                    "the playbook was interrupted or lost its connection" % (
                                        age or 0, heartbeat_timeout, number))
                break
        try:
            path, stamp = reserve(base)
        except _results.ResultsError as exc:
            status.update(stopped_by="reserve-failed", failed_run=number, error=str(exc))
            break
        run_id = new_run_id(stamp)
        entry = {"number": number, "path": path, "timestamp": stamp, "run_id": run_id,
                 "status_file": os.path.join(path, ENGINE_STATUS_NAME),
                 "pid_file": (pid_template % stamp) if pid_template else None,
                 "reserved_epoch": round(clock(), 3), "end_epoch": None, "status": None}
        status["runs"].append(entry)
        save()
        write_phase(phase_files, "%s_%s" % (phase_prefix, stamp))
        run_argv = [a.replace(RUN_DIR_TOKEN, path) for a in argv]
        result = engine(run_argv, os.path.join(path, stdout_name), os.path.join(path, stderr_name),
                        entry["status_file"], env=env, cwd=cwd, timeout=timeout, pid_path=entry["pid_file"],
                        heartbeat_path=heartbeat_path, heartbeat_timeout=heartbeat_timeout, run_id=run_id,
                        stop_path=stop_path)
        entry["end_epoch"] = round(clock(), 3)
        entry["status"] = result
        if result.get("rc") != 0:
            status.update(stopped_by="run-failed", failed_run=number,
                          error="run %d ended by %s with exit code %s" % (number, result.get("ended_by"),
                                                                         result.get("rc")))
            save()
            break
        save()
    status.update(state="finished", end=_engine.iso_now(), not_started=not_started(status))
    save()
    return status


def current_run(status):
    """The run of the set that is running or ran last (None before the first is reserved)."""
    runs = (status or {}).get("runs") or []
    return runs[-1] if runs else None


def progress_line(status, label, progress=None, now=None, describe=None):
    """One line for the controller: which run of the set runs and how far it is, or how the set ended."""
    now = now or time.time()
    planned = (status or {}).get("runs_planned") or 0
    runs = (status or {}).get("runs") or []
    if not status:
        return "%s set: starting" % label
    if status.get("state") == "finished":
        done = sum(1 for r in runs if (r.get("status") or {}).get("rc") == 0)
        line = "%s set: finished, %d/%d run(s) completed" % (label, done, planned)
        if status.get("stopped_by"):
            line += "; stopped (%s): %s" % (status["stopped_by"], status.get("error"))
        return line
    if not runs:
        return "%s set: starting run 1/%d" % (label, planned)
    run = runs[-1]
    head = "%s %d/%d" % (label, run["number"], planned)
    if run.get("status"):
        return "%s: finished (%s, exit %s), next starting" % (head, run["status"].get("ended_by"),
                                                                run["status"].get("rc"))
    elapsed = now - (run.get("reserved_epoch") or now)
    what = describe(progress or {}) if describe else "running"
    return "%s: %s, %.0f s elapsed" % (head, what, elapsed)
