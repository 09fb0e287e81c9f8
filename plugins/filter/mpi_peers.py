# -*- coding: utf-8 -*-
# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: mpi_peers
short_description: The name MPI uses for each client, next to its inventory name
version_added: "0.2.0"
description:
  - Turns inventory host names into C({name, host}) pairs, C(host) being the host's C(mlperf_mpi_host) (the name
    or address MPI is given for it) or the inventory name when that is unset. Preflight and the lost-client
    watch probe the same C(host) that MPI uses, and report the inventory C(name).
positional: _input, hostvars
options:
  _input:
    description: Inventory host names.
    type: list
    elements: str
    required: true
  hostvars:
    description: C(hostvars).
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Check SSH from the launcher to the other clients
  mlperf.storage.peer_probe:
    peers: "{{ groups[mlperf_clients_group] | difference([inventory_hostname]) | mlperf.storage.mpi_peers(hostvars) }}"
"""

RETURN = r"""
_value:
  description: "C([{name, host}])"
  type: list
  elements: dict
"""


def mpi_peers(names, hostvars):
    peers = []
    for name in names:
        host = hostvars[name].get("mlperf_mpi_host") if name in hostvars else None
        peers.append({"name": name, "host": str(host) if host else name})
    return peers


class FilterModule:
    def filters(self):
        return {"mpi_peers": mpi_peers}
