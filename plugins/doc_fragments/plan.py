# -*- coding: utf-8 -*-
# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Options every plan module shares (the action base plugin_utils/_plan_action.py declares the same ones)."""
from __future__ import annotations


class ModuleDocFragment:

    # Every plan: rules edition and division, the launcher, the results path names and paths.
    DOCUMENTATION = r"""
options:
  edition:
    description:
      - Rules edition the plan is classified under (a file of C(plugins/plugin_utils/rules/editions)).
    type: str
    required: true
  division:
    description: Division (closed, open, whatif).
    type: str
    required: true
  launcher:
    description: The host that starts the benchmark (the MPI launcher), whose environment lock and MPI are read.
    type: str
    required: true
  org:
    description: Organisation (results path segment).
    type: str
    required: true
  system:
    description: System name (results path segment).
    type: str
    required: true
  paths:
    description:
      - Where things are on the launcher; each plan lists the keys it reads. C(results_dir) is the results
        filesystem, C(controller_results_dir) the controller's tree (default C(results_dir)).
    type: dict
    required: true
  allow_invalid:
    description: Run an INVALID plan anyway (recorded in every run's metadata; never a valid submission).
    type: bool
    default: false
attributes:
  check_mode:
    description: Whether the module runs with C(--check), and what it does then instead of changing anything.
    support: full
    details: The plan starts and writes nothing; it runs in check mode as it does otherwise.
notes:
  - Runs on the controller (the action plugin of the same name); the module file is its documentation.
  - Fails, before anything runs, with every problem found, numbered, each naming the variable to change and the
    fix. The failed result also holds C(errors), a list of C(variable), C(message), C(fix) and, for a finding
    of the planned run's classification, C(verdict) (INVALID or OPEN); and C(plan_warnings).
"""

    # Plans whose ranks run on the clients under MPI.
    CLIENTS = r"""
options:
  clients:
    description: Client hosts in launch order (their facts are read from C(hostvars)).
    type: list
    elements: str
    required: true
  clients_group:
    description: The inventory group the clients come from, named in messages.
    type: str
    default: clients
  mpi_extra_args:
    description: Site flags for the MPI launcher, placed before the program.
    type: list
    elements: str
    default: []
"""

    # The plans of the DLIO benchmarks (training, checkpointing).
    DLIO = r"""
options:
  model:
    description: The benchmark's model (C(mlperf_model)).
    type: str
    required: true
  accelerator:
    description: The simulated accelerator (C(mlperf_accelerator)).
    type: str
    required: true
  params:
    description:
      - Dotted workload overrides, a mapping (C(mlperf_params)); its type is checked by the plan, which names the
        variable. What a division allows is the edition's data.
    type: raw
    default: {}
  accelerators_per_host:
    description: Ranks per client, one per simulated accelerator (C(mlperf_accelerators_per_host)).
    type: int
    required: true
"""
