# -*- coding: utf-8 -*-
# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: run_metadata
short_description: Build the metadata of a benchmark run leaf
version_added: "0.1.0"
description:
  - Turns a plan (from M(mlperf.storage.training_plan)), the engine's status and the telemetry summary into the
    C(<benchmark>_<ts>_metadata.json) content, in the field layout of the upstream v3 tool.
positional: _input, command, run_dir, timestamp
options:
  _input:
    description: The plan.
    type: dict
    required: true
  command:
    description: C(run), C(datagen) or C(datasize).
    type: str
    required: true
  run_dir:
    description: The run directory.
    type: str
    required: true
  timestamp:
    description: The run's timestamp.
    type: str
    required: true
  status:
    description: Engine status (rc, start, end, duration_seconds, ended_by).
    type: dict
  telemetry:
    description: Telemetry summary (system_info, cluster_snapshots, timeseries_data, cache_drops).
    type: dict
  extra:
    description: More top-level fields.
    type: dict
"""

EXAMPLES = r"""
- name: Write the metadata
  ansible.builtin.copy:
    content: "{{ plan | mlperf.storage.run_metadata('run', run.path, run.timestamp, status=engine.status) | to_nice_json(indent=2) }}"
    dest: "{{ run.path }}/training_{{ run.timestamp }}_metadata.json"
    mode: "0644"
"""

RETURN = r"""
_value:
  description: The metadata.
  type: dict
"""

from ansible_collections.mlperf.storage.plugins.plugin_utils._run_record import run_metadata


class FilterModule:
    def filters(self):
        return {"run_metadata": run_metadata}
