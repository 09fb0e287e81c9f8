# -*- coding: utf-8 -*-
# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
---
module: telemetry_collect
short_description: Assemble the run's host telemetry on the controller
version_added: "0.1.0"
description:
  - Runs on the controller, once per phase, after the C(mlperf.storage.telemetry) role's C(stop) entry point
    has fetched each host's files into C(<collect_dir>/telemetry/.incoming/<host>/).
  - Moves them to C(telemetry/<host>.jsonl) and C(telemetry/<host>_snapshot_{start,end}.json), writes the
    index C(<benchmark>_<timestamp>_timeseries.json), C(telemetry/snapshot_diff.json) and
    C(telemetry/summary.json), and returns the summary as the fact C(telemetry_summary).
  - A host whose sampler failed or whose files are missing is reported in C(warnings); it never fails the task.
options:
  collect_dir:
    description: The run directory on the controller (absolute).
    type: path
    required: true
  benchmark:
    description: Benchmark name used in the index file name (training, checkpointing, vector_database, kv_cache).
    type: str
    required: true
  timestamp:
    description: The run's C(YYYYMMDD_HHMMSS) timestamp.
    type: str
    required: true
  host_results:
    description: One C(telemetry_host_result) per host that reached the stop step.
    type: list
    elements: dict
    required: true
  hosts_requested:
    description: Every host that should have reported (hosts missing from O(host_results) are warned about).
    type: list
    elements: str
    default: []
  interval:
    description: Target sampling interval in seconds, for gap detection.
    type: float
attributes:
  check_mode:
    support: none
author:
  - mlperf.storage contributors
"""

EXAMPLES = r"""
- name: Build the telemetry tree of the run
  mlperf.storage.telemetry_collect:
    collect_dir: /results/closed/org/results/sys/training/unet3d/run/20261123_101500
    benchmark: training
    timestamp: "20261123_101500"
    host_results: "{{ ansible_play_hosts | map('extract', hostvars, 'telemetry_host_result') | list }}"
    hosts_requested: "{{ ansible_play_hosts_all }}"
    interval: 1.0
  run_once: true
"""

RETURN = r"""
ansible_facts:
  description: C(telemetry_summary) with C(cluster_snapshots), C(timeseries_data), C(system_info),
    C(snapshot_diff), C(sampler_failed) and C(warnings).
  returned: success
  type: dict
"""

from ansible.plugins.action import ActionBase

from ansible_collections.mlperf.storage.plugins.plugin_utils._telemetry import TelemetryError, build_run_telemetry

ARGUMENT_SPEC = dict(
    collect_dir=dict(type="path", required=True),
    benchmark=dict(type="str", required=True),
    timestamp=dict(type="str", required=True),
    host_results=dict(type="list", elements="dict", required=True),
    hosts_requested=dict(type="list", elements="str", default=[]),
    interval=dict(type="float"),
)


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        if self._task.check_mode:
            result.update(skipped=True, msg="telemetry_collect writes the results tree; skipped in check mode")
            return result
        _, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        try:
            summary = build_run_telemetry(
                collect_dir=args["collect_dir"], benchmark=args["benchmark"], timestamp=str(args["timestamp"]),
                host_results=args["host_results"], hosts_requested=args["hosts_requested"],
                interval=args["interval"])
        except TelemetryError as exc:
            result.update(failed=True, msg="telemetry_collect: %s" % exc)
            return result
        except (IOError, OSError) as exc:
            result.update(failed=True, msg="telemetry_collect: cannot write the telemetry tree under %s: %s; "
                                           "check that the directory is writable on the controller"
                                           % (args["collect_dir"], exc))
            return result
        for warning in summary["warnings"]:
            self._display.warning("telemetry: %s" % warning)
        result.update(changed=True, ansible_facts={"telemetry_summary": summary},
                      index=summary["timeseries_data"]["file"], warnings_count=len(summary["warnings"]))
        return result
