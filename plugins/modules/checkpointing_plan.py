#!/usr/bin/python
# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# Documentation stub: the work is done by the action plugin of the same name on the controller.
from __future__ import annotations

DOCUMENTATION = r"""
module: checkpointing_plan
short_description: Plan a checkpointing benchmark on the controller before anything runs
version_added: "0.1.0"
description:
  - Decides everything about an LLM checkpointing benchmark (llama3-8b, 70b, 405b, 1t) from the inventory and the
    clients' facts, in the plan shape the M(mlperf.storage.run_phase) role runs - the process layout, the DLIO
    workload and overrides for the installed engine generation, the checkpoint size, the MPI command of each
    invocation (one combined 10-write/10-read run, or a write-only run then a read-only run), the results paths and
    the rules engine's classification of each planned invocation.
  - Fails, before anything runs, with every problem found - a process count the division does not allow, an engine
    that cannot run checkpointing (the PyPI DLIO 2.0.0 build; the message names C(mlperf_env_profile=submission)),
    an override CLOSED does not allow, a subset mode (O(subset)) the division or the engine does not allow, an
    INVALID plan without O(allow_invalid).
extends_documentation_fragment:
  - mlperf.storage.common
  - mlperf.storage.common.controller
  - mlperf.storage.plan
  - mlperf.storage.plan.clients
  - mlperf.storage.plan.dlio
options:
  split:
    description: Run the 10 writes and the 10 reads as two invocations (write, then read) instead of one.
    type: bool
    default: false
  subset:
    description:
      - Subset mode (upstream C(--checkpoint-subset); rules 4.3.5). The edition's declared subset form (edition 3.0
        V(llama3-8b) on exactly 8 processes) is the full invocation, recorded as C(args.checkpoint_subset); the only
        form CLOSED accepts.
      - OPEN also accepts fewer processes than the model's CLOSED count; the ranks are then the first ranks of the
        full run (C(checkpoint.mode=subset), C(model.parallelism.data) = CLOSED processes / TPxPP).
      - Refused before anything runs in any other case, and on an engine without a subset mode (the PyPI DLIO 2.0.0).
    type: bool
    default: false
  checkpoint_folder:
    description: Directory on the storage under test; the model's checkpoints go to C(<checkpoint_folder>/<model>).
    type: str
    required: true
  num_checkpoints_write:
    description:
      - Checkpoints written (the write phase's with O(split)). CLOSED allows only 10; OPEN any count, 0 for a
        read-only run.
    type: int
    default: 10
  num_checkpoints_read:
    description:
      - Checkpoints read (the read phase's with O(split)). CLOSED allows only 10; OPEN any count, 0 for a
        write-only run. Not both 0; with O(split) neither.
    type: int
    default: 10
  paths:
    description: C(results_dir), C(controller_results_dir), C(work_dir) and C(venv_bin).
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Plan llama3-8b write then read phases in OPEN with a site MPI flag
  mlperf.storage.checkpointing_plan:
    edition: "3.0"
    division: open
    model: llama3-8b
    accelerator: mi355
    clients: "{{ groups['storage_clients'] }}"
    clients_group: storage_clients
    launcher: "{{ groups['storage_clients'][0] }}"
    accelerators_per_host: 8
    split: true
    checkpoint_folder: /mnt/storage/checkpoints
    mpi_extra_args: [--bind-to, none]
    org: acme
    system: nvme-pool-a
    paths: {results_dir: /shared/results, work_dir: /var/tmp/w, venv_bin: /opt/venv/bin}
  run_once: true
  delegate_to: localhost
  register: checkpointing_plan_result

- name: Plan an OPEN subset of llama3-70b (8 of its 64 ranks) on one client
  mlperf.storage.checkpointing_plan:
    edition: "3.0"
    division: open
    model: llama3-70b
    accelerator: b200
    clients: "{{ groups['clients'] }}"
    launcher: "{{ groups['clients'][0] }}"
    accelerators_per_host: 8
    subset: true
    checkpoint_folder: /mnt/storage/checkpoints
    org: acme
    system: nvme-node
    paths: {results_dir: /shared/results, work_dir: /var/tmp/w, venv_bin: /opt/venv/bin}
  run_once: true
  delegate_to: localhost
  register: checkpointing_plan_result
"""

RETURN = r"""
plan:
  description: The plan (phases with their commands, metadata and classification; datasize, paths, warnings, notes).
  returned: success
  type: dict
"""
