#!/usr/bin/python
# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# Documentation stub: the work is done by the action plugin of the same name on the controller.
from __future__ import annotations

DOCUMENTATION = r"""
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
  timestamp:
    description: The run's C(YYYYMMDD_HHMMSS) timestamp.
    type: str
    required: true
attributes:
  check_mode:
    support: none
extends_documentation_fragment:
  - mlperf.storage.common
  - mlperf.storage.common.controller
  - mlperf.storage.telemetry
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
