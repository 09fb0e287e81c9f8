#!/usr/bin/python
# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# Documentation stub: the work is done by the action plugin of the same name on the controller.
from __future__ import annotations

DOCUMENTATION = r"""
module: telemetry_collect_set
short_description: Split one telemetry window that spanned a run set into each run's telemetry tree
version_added: "0.3.0"
description:
  - Runs on the controller, once per run set, after the C(mlperf.storage.telemetry) role's C(stop) entry point
    has fetched each host's window archive into C(<staging>/<host>.tgz).
  - Splits every host's series by sample time into the runs (run k from its reservation to the next run's; the
    first from the start of the series, the last to its end), with each sample's phase set to its run's label,
    and gives every run the set's start and end snapshots (marked C(run_set.derived) where they were not taken
    at that run's own boundary).
  - Then writes each run's tree as M(mlperf.storage.telemetry_collect) does for a single run (same file names)
    and returns the summaries as the fact C(telemetry_summaries), keyed by run timestamp.
extends_documentation_fragment:
  - mlperf.storage.common
  - mlperf.storage.common.controller
  - mlperf.storage.telemetry
  - mlperf.storage.common.check_mode_none
options:
  runs:
    description: One entry per run, in order, with C(collect_dir) (the run directory on the controller),
      C(timestamp), C(phase) (its phase label) and C(start_epoch) (when it was reserved, seconds since the epoch).
    type: list
    elements: dict
    required: true
  staging:
    description: Controller directory holding the fetched C(<host>.tgz) archives; removed afterwards.
    type: path
    required: true
"""

EXAMPLES = r"""
- name: Split the set's telemetry into its runs
  mlperf.storage.telemetry_collect_set:
    runs:
      - {collect_dir: /results/.../run/20261123_101500, timestamp: "20261123_101500", phase: run_20261123_101500,
         start_epoch: 1795428900.1}
      - {collect_dir: /results/.../run/20261123_101531, timestamp: "20261123_101531", phase: run_20261123_101531,
         start_epoch: 1795428931.4}
    benchmark: training
    staging: /results/.../run/20261123_101500/telemetry/.set-incoming
    host_results: "{{ ansible_play_hosts | map('extract', hostvars, 'telemetry_host_result') | list }}"
    hosts_requested: "{{ ansible_play_hosts_all }}"
  run_once: true
"""

RETURN = r"""
ansible_facts:
  description: C(telemetry_summaries), the C(telemetry_summary) of each run keyed by its timestamp.
  returned: success
  type: dict
"""
