#!/usr/bin/python
# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# Documentation stub: the work is done by the action plugin of the same name on the controller.
from __future__ import annotations

DOCUMENTATION = r"""
module: preflight_report
short_description: Gather every client's preflight findings into one table and fail once
version_added: "0.1.0"
description:
  - Runs on the controller (use C(run_once)). Reads the C(preflight_host_report) fact that the
    M(mlperf.storage.preflight) role left on every client, and the registered reachability result of hosts
    that could not be reached, evaluates them together and fails once with a per-host table of every problem.
  - Warnings are shown but do not fail the task.
options:
  clients:
    description: The client hosts to report on, in order.
    type: list
    elements: str
    required: true
  launcher:
    description: The MPI launcher host (its SSH and shared-filesystem findings are evaluated).
    type: str
    required: true
  accelerators_per_host:
    description: Simulated accelerators per client, for the core and memory checks.
    type: int
    default: 1
  mpi_implementation:
    description: MPI implementation every client must have.
    type: str
  require_shared:
    description: Directory names that must be one shared filesystem across clients.
    type: list
    elements: str
    default: [data_dir]
  checks:
    description: Which checks the benchmark needs; the others are not evaluated.
    type: list
    elements: str
    choices: [env, mpi, dirs, peers]
    default: [env, mpi, dirs, peers]
extends_documentation_fragment:
  - mlperf.storage.common
  - mlperf.storage.common.controller
  - mlperf.storage.common.check_mode_full
"""

EXAMPLES = r"""
- name: Report every problem of every client at once
  mlperf.storage.preflight_report:
    clients: "{{ groups[mlperf_clients_group] }}"
    launcher: "{{ groups[mlperf_clients_group][0] }}"
  run_once: true
  delegate_to: localhost
"""

RETURN = r"""
problems:
  description: Every problem found, with host, check, severity, message and fix.
  returned: always
  type: list
  elements: dict
table:
  description: The same as a readable table.
  returned: always
  type: str
"""
