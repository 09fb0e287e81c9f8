#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
---
module: engine_stop
short_description: Stop whatever is left of a benchmark engine on a host
version_added: "0.1.0"
description:
  - Cleanup after a failed, interrupted or abandoned engine run. On the launcher, stops the process group named
    by the pid file of M(mlperf.storage.engine_run) (the file exists only while the engine runs). On any host,
    stops the processes of this user whose command line contains O(match) (the run directory, which every
    rank of a run carries), so that ranks whose launcher is gone do not keep running.
  - SIGTERM first, SIGKILL after O(grace) seconds. This process and its parents are never signalled.
  - Nothing to stop is not an error (C(changed=false)).
options:
  pid_file:
    description: The engine's pid file.
    type: path
  match:
    description: Text unique to the run that its processes carry on their command line.
    type: str
  grace:
    description: Seconds between SIGTERM and SIGKILL.
    type: float
    default: 10
attributes:
  check_mode:
    support: full
    details: In check mode the processes are found and reported, not signalled.
  diff_mode:
    support: none
author:
  - mlperf.storage contributors
"""

EXAMPLES = r"""
- name: Stop the ranks of an abandoned run on every client
  mlperf.storage.engine_stop:
    pid_file: /var/tmp/mlperf-storage/work/engine-20261123_101524.pid
    match: /results/closed/org/results/sys/training/unet3d/run/20261123_101524
  ignore_unreachable: true
"""

RETURN = r"""
group:
  description: Process group of the engine that was still running (null when none).
  returned: always
  type: int
processes:
  description: Pids whose command line matched O(match).
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
            match=dict(type="str"),
            grace=dict(type="float", default=10),
        ),
        required_one_of=[("pid_file", "match")],
        supports_check_mode=True,
    )
    p = module.params
    if p["match"] is not None and len(p["match"].strip()) < 8:
        module.fail_json(msg="match '%s' is too short to be unique to one run; give the run directory" % p["match"])
    if module.check_mode:
        info = _engine.read_status(p["pid_file"]) if p["pid_file"] else None
        procs = _engine.processes_matching(p["match"]) if p["match"] else []
        group = int(info["pgid"]) if info and info.get("pgid") else None
        module.exit_json(changed=bool(group or procs), group=group, processes=procs, killed=[])
    found = _engine.stop_engine(pid_path=p["pid_file"], match=p["match"], grace=p["grace"])
    module.exit_json(changed=bool(found["group"] or found["processes"]), **found)


if __name__ == "__main__":
    main()
