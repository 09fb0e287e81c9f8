#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: engine_wait
short_description: Wait a little for a running engine and report its progress
version_added: "0.1.0"
description:
  - Waits up to O(wait) seconds for the status file written by M(mlperf.storage.engine_run) to appear, and
    reads the engine's log to report progress (epoch n of N, files generated, elapsed time).
  - Use it in a loop with C(until) so that every retry shows a progress line (the
    C(mlperf.storage.progress) callback prints C(progress_line)).
extends_documentation_fragment:
  - mlperf.storage.common
  - mlperf.storage.common.check_mode_full
options:
  status_file:
    description: The status file of the run.
    type: path
    required: true
  pid_file:
    description: The pid file of the run (its start time is used for the elapsed time).
    type: path
  log:
    description: The engine log to read progress from (DLIO's C(dlio.log)).
    type: path
  label:
    description: Text that names the run in the progress line (for example C(run 2/6)).
    type: str
    default: engine
  epochs:
    description: Number of epochs the run makes, for the progress line (the PyPI DLIO build does not log it).
    type: int
  wait:
    description: Seconds to wait in this call before returning C(finished=false).
    type: float
    default: 15
  heartbeat_file:
    description: The O(mlperf.storage.engine_run#module:heartbeat_file) of the run; touched on every call (not in
      check mode) so the engine knows the playbook is still following it.
    type: path
  peers:
    description:
      - Other clients of the run. Each is a name MPI uses for it, or a dict C({name, host}) where C(host) is the
        name MPI uses (C(mlperf_mpi_host)) and C(name) the inventory name that messages show.
      - Each poll opens a TCP connection to the address and port that SSH, and so MPI, really uses for the
        peer (C(ssh -G <host>) on this host, so C(Port) in an ssh config is honoured; resolved once per run);
        a client that stays unreachable for O(peer_lost_after) seconds fails the task naming it, because MPI
        ranks waiting on a lost host never end by themselves.
      - Needs O(heartbeat_file) (the failure times and resolved targets are kept next to it).
    type: list
    elements: raw
    default: []
  peer_port:
    description: TCP port probed when the ssh client cannot say which one it would use (no C(ssh -G)).
    type: int
    default: 22
  peer_lost_after:
    description: Seconds a peer must stay unreachable before it counts as lost.
    type: float
    default: 20
"""

EXAMPLES = r"""
- name: Wait for the run, showing progress
  mlperf.storage.engine_wait:
    status_file: /results/run/.engine-status.json
    log: /results/run/dlio.log
    label: run 2/6
  register: engine_progress
  until: engine_progress.finished
  retries: 100000
  delay: 0
"""

RETURN = r"""
finished:
  description: True once the engine has ended.
  returned: always
  type: bool
status:
  description: Content of the status file once finished (rc, start, end, duration_seconds, ended_by).
  returned: always
  type: dict
progress:
  description: What the log says so far (phase, epoch, epochs, files written, ...).
  returned: always
  type: dict
progress_line:
  description: One human-readable line.
  returned: always
  type: str
  sample: "run 2/6: epoch 3/5, 41 s elapsed"
lost_peers:
  description: Clients found lost (only when the task fails for that reason).
  returned: on failure
  type: list
  elements: str
elapsed_seconds:
  description: Seconds since the engine started.
  returned: always
  type: float
"""

import os
import time

from ansible_collections.mlperf.storage.plugins.module_utils import _engine
from ansible_collections.mlperf.storage.plugins.module_utils._dlio_output import describe, progress_from_log, read_tail


def main():
    module = _engine.watcher_module(
        status_file=dict(type="path", required=True),
        pid_file=dict(type="path"),
        log=dict(type="path"),
        label=dict(type="str", default="engine"),
    )
    p = module.params
    empty = dict(finished=False, status={}, progress={}, progress_line="", elapsed_seconds=0)
    try:
        status = _engine.watch(p, lambda: _engine.read_status(p["status_file"]), lambda s: s is not None,
                               module.check_mode)
    except ValueError as exc:
        module.fail_json(msg="peers: %s" % exc, **empty)
    if status is None:
        _engine.fail_if_clients_lost(module, p["label"], empty)
    progress = progress_from_log(read_tail(p["log"]), epochs=p["epochs"]) if p["log"] else {}
    started = None
    pid_info = _engine.read_status(p["pid_file"]) if p["pid_file"] else None
    try:
        started = os.path.getmtime(p["pid_file"]) if pid_info else None
    except OSError:
        started = None
    if status is not None:
        elapsed = status.get("duration_seconds") or 0.0
        line = "%s: finished (%s, exit %s) after %.0f s" % (
            p["label"], status.get("ended_by"), status.get("rc"), elapsed)
    else:
        elapsed = time.time() - started if started else 0.0
        line = "%s: %s, %.0f s elapsed" % (p["label"], describe(progress), elapsed)
    module.exit_json(changed=False, finished=status is not None, status=status or {}, progress=progress,
                     progress_line=line, elapsed_seconds=round(elapsed, 1))


if __name__ == "__main__":
    main()
