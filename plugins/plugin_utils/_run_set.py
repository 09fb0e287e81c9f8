# -*- coding: utf-8 -*-
# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of a run set (mlperf.storage.engine_run_set): what each run of the set needs to be sealed on its
own (its directories, phase label, telemetry window, engine status, why it is incomplete) and the message a set
that did not complete fails with. Plain Python, no Ansible objects."""
from __future__ import annotations

import os

from ansible_collections.mlperf.storage.plugins.plugin_utils._run_outcome import incomplete_reasons


def _dict(value):
    return value if isinstance(value, dict) else {}


def controller_path(path, results_dir, controller_results_dir, same_tree):
    """Where a run directory on the launcher lies on the controller (the same path when they share the tree)."""
    if same_tree:
        return path
    return os.path.join(str(controller_results_dir), os.path.relpath(path, str(results_dir)))


def copy_result_of(copy, timestamp):
    """The part of the looped telemetry copy (items [run, name]) that concerns one run, as a loop result."""
    copy = _dict(copy)
    if not copy or copy.get("skipped"):
        return None
    items = [r for r in copy.get("results") or []
             if isinstance(r, dict) and isinstance(r.get("item"), (list, tuple)) and r["item"]
             and _dict(r["item"][0]).get("timestamp") == timestamp]
    if not items and copy.get("failed") and not copy.get("results"):
        return {"failed": True, "msg": copy.get("msg", "the copy failed")}
    return {"failed": any(r.get("failed") for r in items), "results": items}


def run_set_runs(set_status, benchmark, command, label, results_dir, controller_results_dir, same_tree=False,
                 failure=None, lost_hosts=None, telemetry_error=None, telemetry_copy=None):
    """One entry per started run of the set, in order, with what sealing it needs.

    ``failure`` (why following the set failed) and ``lost_hosts`` concern the run that was running when the set
    ended: they are reasons of the last run only, unless it had completed (exit code 0), in which case the
    next run never started and no run is blamed. ``telemetry_error`` (the set's one telemetry window) concerns
    every run.
    """
    status = _dict(set_status)
    runs = [r for r in status.get("runs") or [] if isinstance(r, dict)]
    planned = status.get("runs_planned") or len(runs)
    entries = []
    for position, run in enumerate(runs):
        engine = _dict(run.get("status"))
        last = position == len(runs) - 1
        completed = bool(engine) and engine.get("rc") == 0
        blamed = last and not completed
        final = {"finished": bool(engine), "status": engine}
        problems = incomplete_reasons(final, benchmark, command,
                                      failure=failure if blamed else None,
                                      lost_hosts=lost_hosts if blamed else None,
                                      telemetry_error=telemetry_error,
                                      telemetry_copy=copy_result_of(telemetry_copy, run.get("timestamp")))
        entries.append({
            "number": run.get("number", position + 1),
            "label": "%s %s/%s" % (label, run.get("number", position + 1), planned),
            "path": run.get("path"),
            "controller_path": controller_path(run.get("path"), results_dir, controller_results_dir, same_tree),
            "collect_dir": controller_path(run.get("path"), results_dir, controller_results_dir, same_tree),
            "timestamp": run.get("timestamp"),
            "run_id": run.get("run_id"),
            "pid_file": run.get("pid_file"),
            "phase": "%s_%s" % (command, run.get("timestamp")),
            "start_epoch": run.get("reserved_epoch"),
            "status": engine,
            "final": final,
            "lost_hosts": list(lost_hosts or []) if blamed else [],
            "problems": problems,
        })
    return entries


def not_started_note(set_status, label):
    """A sentence naming the runs of the set that never started (empty when every run started)."""
    status = _dict(set_status)
    missing = status.get("not_started")
    if missing is None:
        started = set(r.get("number") for r in status.get("runs") or [] if isinstance(r, dict))
        missing = [n for n in range(1, (status.get("runs_planned") or 0) + 1) if n not in started]
    if not missing:
        return ""
    planned = status.get("runs_planned") or max(missing)
    return ("%s %s of %s not started: the run set stops at its first run that does not complete; start the "
            "playbook again for a new set." % (label, ", ".join(str(n) for n in missing), planned))
