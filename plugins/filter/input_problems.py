# -*- coding: utf-8 -*-
# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: input_problems
short_description: Every problem of the clients' collection-wide settings, each with its host, variable and fix
version_added: "0.2.0"
description:
  - Checks the C(mlperf_*) settings (and the benchmark roles' progress intervals) of every client of the play
    before anything runs - types, ranges, absolute and separate directories, results path segments the verifier
    reads, C(mlperf_params) keys and values, the launcher, and one MPI host name per client. See docs/bad-input.md.
  - A problem every client shares is reported once without a host; one only some clients have names them.
positional: _input, clients, launcher, clients_group
options:
  _input:
    description: One mapping per client - C(host), C(mlperf_mpi_host) and the settings to check.
    type: list
    elements: dict
    required: true
  clients:
    description: The hosts of the clients group (C(groups[mlperf_clients_group])).
    type: list
    elements: str
  launcher:
    description: The chosen MPI launcher.
    type: str
  clients_group:
    description:
      - The name of the clients group (C(mlperf_clients_group)), for the messages.
      - A client of the play outside O(clients) is a problem naming it (the play was given another group).
    type: str
    default: clients
"""

EXAMPLES = r"""
- name: Check every client's settings
  ansible.builtin.set_fact:
    config_problems: >-
      {{ ansible_play_hosts_all | map('extract', hostvars, 'config_settings') | list
         | mlperf.storage.input_problems(groups[mlperf_clients_group], mlperf_launcher_host,
                                         mlperf_clients_group) }}
  run_once: true
"""

RETURN = r"""
_value:
  description: C([{host, variable, message, fix, text}]); C(host) is null when every client has the problem.
  type: list
  elements: dict
"""

from ansible_collections.mlperf.storage.plugins.plugin_utils._inputs import settings_problems


def input_problems(per_host, clients=None, launcher=None, clients_group=None):
    return settings_problems(list(per_host or []), list(clients) if clients is not None else None, launcher,
                             clients_group)


class FilterModule:
    def filters(self):
        return {"input_problems": input_problems}
