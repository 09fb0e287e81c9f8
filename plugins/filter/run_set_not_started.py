# -*- coding: utf-8 -*-
# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: run_set_not_started
short_description: A sentence naming the runs of a run set that never started
version_added: "0.3.0"
description:
  - From the set status of M(mlperf.storage.engine_run_set), names the runs that were never started because an
    earlier run of the set did not complete; empty when every run started.
positional: _input, label
options:
  _input:
    description: The set status.
    type: dict
    required: true
  label:
    description: Name of a run (C(run)).
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Say which runs never started
  ansible.builtin.debug:
    msg: "{{ wait.set | mlperf.storage.run_set_not_started('run') }}"
"""

RETURN = r"""
_value:
  description: The sentence, or an empty string.
  type: str
"""

from ansible_collections.mlperf.storage.plugins.plugin_utils._run_set import not_started_note


class FilterModule:
    def filters(self):
        return {"run_set_not_started": not_started_note}
