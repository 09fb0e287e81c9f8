# -*- coding: utf-8 -*-
# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: phase_failure_message
short_description: The message an incomplete run phase fails with
version_added: "0.2.0"
description:
  - Joins the reasons a run phase is incomplete (from P(mlperf.storage.run_problems#filter)) into the message the
    C(mlperf.storage.run_phase) role fails with.
  - When a reason, or the message of the metadata or checksum task, says C(No space left on device), the message
    names the full results filesystem on the launcher and the controller; when writing the metadata or the
    checksums failed, it says so with their messages. It ends with where the kept run directory and its engine
    log are.
positional: _input, label, run_dir, launcher, benchmark, command
options:
  _input:
    description: The reasons the run is incomplete.
    type: list
    elements: str
    required: true
  label:
    description: Name of the phase (for example C(run 2/6)).
    type: str
    required: true
  run_dir:
    description: The run directory on the launcher.
    type: str
    required: true
  launcher:
    description: The launcher host.
    type: str
    required: true
  benchmark:
    description: Benchmark name used in the run's file names.
    type: str
    required: true
  command:
    description: The phase's command (C(run), C(datagen)).
    type: str
    required: true
  results_dir:
    description: The results directory on the launcher (C(mlperf_results_dir)).
    type: str
    required: true
  controller_results_dir:
    description: The results directory on the controller (C(mlperf_controller_results_dir)).
    type: str
    required: true
  metadata:
    description: The registered result of writing the run metadata.
    type: dict
  checksums:
    description: The registered result of sealing the run directory with M(mlperf.storage.checksums).
    type: dict
"""

EXAMPLES = r"""
- name: Fail when the phase did not complete
  ansible.builtin.fail:
    msg: >-
      {{ run_phase_problems | mlperf.storage.phase_failure_message(
           run_phase_label, run_phase_leaf.path, mlperf_launcher_host, run_phase_benchmark, run_phase_command,
           results_dir=mlperf_results_dir, controller_results_dir=mlperf_controller_results_dir,
           metadata=run_phase_metadata, checksums=run_phase_checksums) }}
  when: run_phase_problems | length > 0
"""

RETURN = r"""
_value:
  description: The failure message.
  type: str
"""

from ansible_collections.mlperf.storage.plugins.plugin_utils._run_outcome import failure_message


def phase_failure_message(problems, label, run_dir, launcher, benchmark, command, results_dir, controller_results_dir,
                          metadata=None, checksums=None):
    return failure_message(problems, label, run_dir, launcher, benchmark, command, results_dir,
                           controller_results_dir, metadata=metadata, checksums=checksums)


class FilterModule:
    def filters(self):
        return {"phase_failure_message": phase_failure_message}
