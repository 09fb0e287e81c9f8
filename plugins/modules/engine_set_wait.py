#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: engine_set_wait
short_description: Wait a little for a run set and report the progress of its current run
version_added: "0.3.0"
description:
  - Waits up to O(wait) seconds for the run set started by M(mlperf.storage.engine_run_set) to finish, touching
    its heartbeat file, and reports which run of the set is running and how far it is (from its engine log).
  - Use it in a loop with C(until) so that every retry shows a progress line (the C(mlperf.storage.progress)
    callback prints C(progress_line)).
  - Probes the other clients like M(mlperf.storage.engine_wait); a client that stays unreachable for
    O(peer_lost_after) seconds fails the task naming it.
  - With O(stop=true) it first creates O(stop_file), which stops the running engine and every later run of the
    set, and then waits for the set to finish.
extends_documentation_fragment:
  - mlperf.storage.common
options:
  set_status_file:
    description: The set status file of the run set.
    type: path
    required: true
  log:
    description: The engine log, relative to each run directory, read for progress (DLIO's C(dlio.log)).
    type: str
  label:
    description: Name of a run in progress lines (C(run) gives C(run 2/3)).
    type: str
    default: run
  epochs:
    description: Epochs of each run, for the progress line.
    type: int
  wait:
    description: Seconds to wait in this call before returning C(finished=false).
    type: float
    default: 15
  heartbeat_file:
    description: The heartbeat file of the set; touched on every call (not in check mode).
    type: path
  peers:
    description: Other clients of the runs, as for M(mlperf.storage.engine_wait). Needs O(heartbeat_file).
    type: list
    elements: raw
    default: []
  peer_port:
    description: TCP port probed when the ssh client cannot say which one it would use.
    type: int
    default: 22
  peer_lost_after:
    description: Seconds a peer must stay unreachable before it counts as lost.
    type: float
    default: 20
  stop:
    description: Ask the set to stop (create O(stop_file)) before waiting.
    type: bool
    default: false
  stop_file:
    description: The O(mlperf.storage.engine_run_set#module:stop_file) of the set; needed with O(stop=true).
    type: path
attributes:
  check_mode:
    support: full
    details: In check mode nothing is touched or created; the status is only read.
"""

EXAMPLES = r"""
- name: Wait for the run set, showing progress
  mlperf.storage.engine_set_wait:
    set_status_file: /var/tmp/mlperf-storage/work/runset-run_20261204_183000.json
    heartbeat_file: /var/tmp/mlperf-storage/work/runset-run_20261204_183000.heartbeat
    log: dlio.log
    label: run
  register: run_set_wait
  until: run_set_wait.finished
  retries: 100000
  delay: 0
"""

RETURN = r"""
finished:
  description: True once the set has ended (every run done, or stopped).
  returned: always
  type: bool
set:
  description: The set status (runs_planned, runs with each run's directory, identity and engine status,
    stopped_by, failed_run, not_started, error).
  returned: always
  type: dict
current:
  description: The run that is running or ran last (null before the first starts).
  returned: always
  type: dict
progress:
  description: What the current run's log says so far.
  returned: always
  type: dict
progress_line:
  description: One human-readable line.
  returned: always
  type: str
  sample: "run 2/3: epoch 3/5, 41 s elapsed"
lost_peers:
  description: Clients found lost (only when the task fails for that reason).
  returned: on failure
  type: list
  elements: str
"""

import os

from ansible_collections.mlperf.storage.plugins.module_utils import _engine, _engine_set
from ansible_collections.mlperf.storage.plugins.module_utils._dlio_output import describe, progress_from_log, read_tail

def main():
    module = _engine.watcher_module(
        set_status_file=dict(type="path", required=True),
        log=dict(type="str"),
        label=dict(type="str", default="run"),
        stop=dict(type="bool", default=False),
        stop_file=dict(type="path"),
    )
    p = module.params
    if p["stop"] and not p["stop_file"]:
        module.fail_json(msg="stop: true needs stop_file, the file the run set watches")
    if p["peers"] and not p["heartbeat_file"]:
        module.fail_json(msg="peers: they need heartbeat_file: the times peers were first found unreachable are kept "
                             "next to it between polls")
    if p["stop"] and not module.check_mode:
        with open(p["stop_file"], "a"):
            pass

    def finished(state):
        return bool(state) and state.get("state") == "finished"

    status = _engine.watch(p, lambda: _engine.read_status(p["set_status_file"]), finished, module.check_mode)
    current = _engine_set.current_run(status)
    empty = dict(finished=False, set=status or {}, current=current, progress={}, progress_line="")
    if not finished(status) and not p["stop"]:
        where = "%s %d/%d" % (p["label"], current["number"], status["runs_planned"]) if current else p["label"]
        _engine.fail_if_clients_lost(module, where, empty)
    progress = {}
    if current and p["log"] and not current.get("status"):
        progress = progress_from_log(read_tail(os.path.join(current["path"], p["log"])), epochs=p["epochs"])
    line = _engine_set.progress_line(status, p["label"], progress, describe=describe)
    module.exit_json(changed=bool(p["stop"]), finished=finished(status), set=status or {}, current=current,
                     progress=progress, progress_line=line)


if __name__ == "__main__":
    main()
