# -*- coding: utf-8 -*-
# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: run_problems
short_description: Why a run phase is incomplete, one reason a line
version_added: "0.2.0"
description:
  - Turns what the C(mlperf.storage.run_phase) role registered about a run into the reasons the run is
    incomplete, in this order - why the engine block failed, the engine's exit code and how it ended, an engine
    status that never came, the clients that cannot be reached, a telemetry collection that failed, and the
    telemetry copies into the launcher's run directory that failed.
  - An empty list means the run completed. The reasons are written to the run metadata (C(incomplete_reasons))
    and make the phase fail (see P(mlperf.storage.phase_failure_message#filter)).
positional: _input, benchmark, command
options:
  _input:
    description: The result of reading the engine's final status with M(mlperf.storage.engine_wait) (C(finished),
      C(status) with C(rc), C(ended_by) and C(error)).
    type: dict
    required: true
  benchmark:
    description: Benchmark name used in the run's file names, for the engine log a missing status points to.
    type: str
    required: true
  command:
    description: The phase's command (C(run), C(datagen)), for the same log name.
    type: str
    required: true
  failure:
    description: Why the engine block failed; null when it did not.
    type: str
  lost_hosts:
    description: Clients that could not be reached after the engine ended.
    type: list
    elements: str
  telemetry_error:
    description: Why collecting the telemetry failed; null when it did not.
    type: str
  telemetry_copy:
    description: The registered result of the looped copy of the telemetry into the launcher's run directory.
    type: dict
"""

EXAMPLES = r"""
- name: Say why the run is incomplete
  ansible.builtin.set_fact:
    run_phase_problems: >-
      {{ run_phase_final | mlperf.storage.run_problems(run_phase_benchmark, run_phase_command,
                                                       failure=run_phase_failure | default(none),
                                                       lost_hosts=run_phase_lost_hosts,
                                                       telemetry_copy=run_phase_telemetry_copy | default(none)) }}
"""

RETURN = r"""
_value:
  description: The reasons the run is incomplete; empty when it completed.
  type: list
  elements: str
"""

from ansible_collections.mlperf.storage.plugins.plugin_utils._run_outcome import incomplete_reasons


def run_problems(final, benchmark, command, failure=None, lost_hosts=None, telemetry_error=None,
                 telemetry_copy=None):
    return incomplete_reasons(final, benchmark, command, failure=failure, lost_hosts=lost_hosts,
                              telemetry_error=telemetry_error, telemetry_copy=telemetry_copy)


class FilterModule:
    def filters(self):
        return {"run_problems": run_problems}
