# -*- coding: utf-8 -*-
# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Options of the two telemetry collect modules (plugin_utils/_telemetry_action.py declares the same ones)."""
from __future__ import annotations


class ModuleDocFragment:

    DOCUMENTATION = r"""
options:
  benchmark:
    description: Benchmark name used in the index file names (training, checkpointing, vector_database, kv_cache).
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
"""
