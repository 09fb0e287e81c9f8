#!/usr/bin/python
# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# Documentation stub: the work is done by the action plugin of the same name on the controller.
from __future__ import annotations

DOCUMENTATION = r"""
module: training_plan
short_description: Plan a training benchmark on the controller before anything runs
version_added: "0.1.0"
description:
  - Decides everything about a training benchmark from the inventory and the clients' facts - the DLIO workload
    and overrides adapted to the installed engine generation, the dataset size from the clients' real memory,
    the MPI rank layout and command lines, the results paths, and the rules engine's classification of the
    planned run.
  - Fails, before anything runs, with every problem found (unknown model or accelerator, a pair the edition
    does not have, an override the division does not allow, a key the installed engine would silently ignore,
    an INVALID plan without O(allow_invalid), an OPEN plan in the closed division).
  - Reads, from C(hostvars), each client's C(ansible_facts) (memory, cores, user) and the launcher's
    C(python_env_result) and C(mlperf_mpi) facts left by the preflight role.
extends_documentation_fragment:
  - mlperf.storage.common
  - mlperf.storage.common.controller
  - mlperf.storage.plan
  - mlperf.storage.plan.clients
  - mlperf.storage.plan.dlio
options:
  client_memory_gb:
    description: Per-client memory (GiB) for the dataset size; 0 uses MemTotal.
    type: float
    default: 0
  runs:
    description: Number of runs; 0 uses the edition's count.
    type: int
    default: 0
  datagen_processes:
    description:
      - Ranks of the data generation, spread over the clients in order as evenly as they go (upstream
        C(training datagen --num-processes)); 0 uses the run's layout. The dataset (its files and their sizes) is
        the same whatever rank count writes it, so a dataset generated with another count still matches the run.
    type: int
    default: 0
  datagen_only:
    description:
      - Plan for data generation alone (C(playbooks/datagen.yml)), which adds no run to the results tree, so the
        runs already in the controller's tree and the run count are not held against it.
    type: bool
    default: false
  paths:
    description:
      - C(data_dir), C(results_dir), C(work_dir) and C(venv_bin) on the clients.
      - C(controller_results_dir), the controller's tree. Runs already there for the same system and model are
        counted with the planned ones (the verifier counts them as one result), so any earlier run makes the plan
        INVALID, an error unless O(allow_invalid).
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Plan a CLOSED unet3d run on the inventory's clients (as roles/training does)
  mlperf.storage.training_plan:
    edition: "{{ mlperf_edition }}"
    division: closed
    model: unet3d
    accelerator: b200
    clients: "{{ groups[mlperf_clients_group] }}"
    clients_group: "{{ mlperf_clients_group }}"
    launcher: "{{ groups[mlperf_clients_group][0] }}"
    accelerators_per_host: 8
    org: "{{ mlperf_org }}"
    system: "{{ mlperf_system }}"
    paths:
      data_dir: /mnt/storage/data
      results_dir: /shared/results
      controller_results_dir: /srv/mlperf/results
      work_dir: /var/tmp/mlperf-storage/work
      venv_bin: /opt/mlperf-storage/venv/bin
  run_once: true
  delegate_to: localhost
  register: training_plan_result
"""

RETURN = r"""
plan:
  description:
    - The plan - datasize (and which term dominates), the run and datagen commands, the rank layout, the results
      paths, the parameters and overrides with their classes, the planned metadata and its classification,
      warnings and notes.
  returned: success
  type: dict
"""
