# -*- coding: utf-8 -*-
# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: run_set_runs
short_description: The runs of a run set, each with what sealing it needs
version_added: "0.3.0"
description:
  - Turns the set status of M(mlperf.storage.engine_run_set) into one entry per started run, in order -
    C(number), C(label) (for example C(run 2/3)), C(path) (on the launcher), C(controller_path), C(timestamp),
    C(run_id), C(pid_file), C(phase) (its telemetry phase label), C(start_epoch), C(status) (its engine status),
    C(final) (as M(mlperf.storage.engine_wait) returns it), C(lost_hosts) and C(problems) (why it is incomplete,
    as P(mlperf.storage.run_problems#filter) says it).
  - O(failure) and O(lost_hosts) concern the run that was running when the set ended, never a run that completed.
positional: _input, benchmark, command, label, results_dir, controller_results_dir
options:
  _input:
    description: The set status (C(set) of M(mlperf.storage.engine_set_wait)).
    type: dict
    required: true
  benchmark:
    description: Benchmark name used in the runs' file names.
    type: str
    required: true
  command:
    description: The runs' command (C(run)).
    type: str
    required: true
  label:
    description: Name of a run in labels (C(run)).
    type: str
    required: true
  results_dir:
    description: The results directory on the launcher.
    type: str
    required: true
  controller_results_dir:
    description: The results directory on the controller.
    type: str
    required: true
  same_tree:
    description: The launcher's results tree is the controller's (local launcher, same directory).
    type: bool
    default: false
  failure:
    description: Why following the set failed; null when it did not.
    type: str
  lost_hosts:
    description: Clients that could not be reached after the set ended.
    type: list
    elements: str
  telemetry_error:
    description: Why collecting the set's telemetry failed; null when it did not.
    type: str
  telemetry_copy:
    description: The looped copy of the telemetry into the launcher's run directories (items C([run, name])).
    type: dict
"""

EXAMPLES = r"""
- name: The runs of the set
  ansible.builtin.set_fact:
    runs: "{{ wait.set | mlperf.storage.run_set_runs('training', 'run', 'run', results_dir, controller_dir) }}"
"""

RETURN = r"""
_value:
  description: One entry per started run.
  type: list
  elements: dict
"""

from ansible_collections.mlperf.storage.plugins.plugin_utils._run_set import run_set_runs


class FilterModule:
    def filters(self):
        return {"run_set_runs": run_set_runs}
