#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: engine_stop
short_description: Stop whatever is left of a benchmark engine on a host
version_added: "0.1.0"
description:
  - Cleanup after a failed, interrupted or abandoned engine run. Acts only on processes that carry the identity
    of a run named in O(run_ids) (the C(MLPERF_STORAGE_RUN_ID) variable in their environment, set by
    M(mlperf.storage.engine_run) and passed on by MPI to every rank). Another playbook's ranks on the same
    machine, or a C(tail -f) of a log, are never signalled.
  - On the launcher, stops the process group named by the pid file of M(mlperf.storage.engine_run) (the file
    exists only while the engine runs) when its leader carries one of O(run_ids). On any host, stops the
    processes of this user that carry one, so that ranks whose launcher is gone do not keep running.
  - SIGTERM first, SIGKILL after O(grace) seconds. This process and its parents are never signalled.
  - Nothing to stop is not an error (C(changed=false)).
options:
  pid_file:
    description: The engine's pid file.
    type: path
  run_ids:
    description: Identities of the runs whose processes are stopped (tokens of at least 8 characters; shorter
      ones match nothing), or of run sets (M(mlperf.storage.engine_run_set) O(mlperf.storage.engine_run_set#module:set_id),
      carried as C(MLPERF_STORAGE_RUN_SET)). Empty means nothing is stopped.
    type: list
    elements: str
    default: []
  grace:
    description: Seconds between SIGTERM and SIGKILL.
    type: float
    default: 10
attributes:
  check_mode:
    support: full
    details: In check mode the processes are found and reported, not signalled.
extends_documentation_fragment:
  - mlperf.storage.common
"""

EXAMPLES = r"""
- name: Stop the ranks of an abandoned run on every client
  mlperf.storage.engine_stop:
    pid_file: /var/tmp/mlperf-storage/work/engine-20261123_101524.pid
    run_ids: [20261123_101524-3f9c0a7d5e21b846]
  ignore_unreachable: true
"""

RETURN = r"""
group:
  description: Process group of the engine that was still running (null when none).
  returned: always
  type: int
processes:
  description: Pids that carried one of O(run_ids).
  returned: always
  type: list
  elements: int
killed:
  description: Pids that needed SIGKILL.
  returned: always
  type: list
  elements: int
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.mlperf.storage.plugins.module_utils import _engine


def main():
    module = AnsibleModule(
        argument_spec=dict(
            pid_file=dict(type="path"),
            run_ids=dict(type="list", elements="str", default=[]),
            grace=dict(type="float", default=10),
        ),
        supports_check_mode=True,
    )
    p = module.params
    if module.check_mode:
        info = _engine.read_status(p["pid_file"]) if p["pid_file"] else None
        group = _engine.owned_group(info, p["run_ids"])
        procs = _engine.processes_carrying(p["run_ids"])
        module.exit_json(changed=bool(group or procs), group=group, processes=procs, killed=[])
    found = _engine.stop_engine(pid_path=p["pid_file"], run_ids=p["run_ids"], grace=p["grace"])
    module.exit_json(changed=bool(found["group"] or found["processes"]), **found)


if __name__ == "__main__":
    main()
