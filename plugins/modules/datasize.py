#!/usr/bin/python
# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# Documentation stub: the work is done by the action plugin of the same name on the controller.
from __future__ import annotations

DOCUMENTATION = r"""
module: datasize
short_description: Size the dataset or checkpoints of a cluster from declared host counts and memory
version_added: "0.1.0"
description:
  - The upstream tool's C(training datasize) and C(checkpointing datasize) on the controller, with no client
    needed - the cluster may not exist yet. Host count, memory per host and accelerators per host are declared,
    not measured.
  - For a training model, the minimum dataset of the MLPerf Storage rules (rules.md 3.4) - at least the edition's
    memory multiple of the client memory, and the edition's steps per epoch for every simulated accelerator -
    with the term that dominates and the numbers used (the workload's record length, samples per file and batch
    size, the edition's constants). The accelerator counts the hosts can run (multiples of the host count, up to
    O(max_accelerators) or the cluster's own count) are searched for where the memory term and where the step
    term dominates.
  - For a checkpointing model (C(llama3-*)), the size of one checkpoint per rank, per host and in total, and the
    totals of the edition's writes and reads per phase; warnings for a process count the division does not
    accept, too little accelerator memory for the checkpoint (rule 4.3.4) and checkpoints under 3x the host
    memory (rule 4.3.1).
  - With O(write=true) (training only) also returns what the datasize leaf of the results tree is made of, for
    M(mlperf.storage.run_dir) and the filter C(mlperf.storage.run_metadata); the module itself writes nothing.
  - Every bad or missing input fails the task with the playbook variable that holds it (C(mlperf_model),
    C(mlperf_num_client_hosts), ...), what was expected and the fix. Findings that do not stop the sizing are
    returned as warnings.
options:
  model:
    description: Workload (playbook variable C(mlperf_model)), a training model such as V(unet3d) or a
      checkpointing model such as V(llama3-8b). Needed; missing is an error that names the variable.
    type: str
  accelerator:
    description: Simulated accelerator (C(mlperf_accelerator)), e.g. V(b200). Needed.
    type: str
  edition:
    description: Rules edition (C(mlperf_edition)); the collection's default edition when not given.
    type: raw
  division:
    description: Division (C(mlperf_division)); the edition's default division when not given.
    type: str
  num_client_hosts:
    description: Client hosts of the cluster (C(mlperf_num_client_hosts)), a whole number of at least 1. Needed.
    type: raw
  client_memory_gb:
    description: Memory of each client host in GiB (C(mlperf_client_memory_gb)), a positive number. Needed.
    type: raw
  accelerators_per_host:
    description: Simulated accelerators (MPI ranks) per host (C(mlperf_accelerators_per_host)), at least 1. Needed.
    type: raw
  max_accelerators:
    description:
      - The largest accelerator count the dataset must serve (C(mlperf_max_accelerators)), like the upstream
        C(--max-accelerators); at least the cluster's own count. Training only.
      - Without it the dataset is sized for O(num_client_hosts) x O(accelerators_per_host).
    type: raw
  params:
    description: Workload overrides (C(mlperf_params)), dotted keys as for the training plan; only
      C(dataset.num_samples_per_file) (OPEN) changes the size, the others are recorded in the leaf's metadata.
    type: raw
  write:
    description: Return the datasize leaf (C(mlperf_datasize_write)); needs O(results_dir), O(data_dir), O(org)
      and O(system). Training only.
    type: raw
    default: false
  results_dir:
    description: The controller's results tree the leaf goes into (C(mlperf_controller_results_dir)), absolute.
    type: str
  data_dir:
    description: The dataset directory the runs will read (C(mlperf_data_dir)), absolute; recorded in the leaf,
      which pairs it with the runs.
    type: str
  org:
    description: Organisation, a results path segment (C(mlperf_org)).
    type: str
  system:
    description: System name, a results path segment (C(mlperf_system)).
    type: str
attributes:
  check_mode:
    support: full
    details: The module only computes; it does the same in check mode.
notes:
  - The arithmetic is the one the training plan and the verifier use; run_training sizes from the clients' real
    MemTotal, which is usually a little below the installed memory declared here.
extends_documentation_fragment:
  - mlperf.storage.common
  - mlperf.storage.common.controller
"""

EXAMPLES = r"""
- name: Size unet3d for 4 hosts of 512 GiB with 8 b200 each
  mlperf.storage.datasize:
    model: unet3d
    accelerator: b200
    num_client_hosts: 4
    client_memory_gb: 512
    accelerators_per_host: 8
  register: size

- name: Show it
  ansible.builtin.debug:
    msg: "{{ size.lines }}"

- name: Size for up to 64 accelerators and return the datasize leaf
  mlperf.storage.datasize:
    model: retinanet
    accelerator: mi355
    num_client_hosts: 4
    client_memory_gb: 768
    accelerators_per_host: 8
    max_accelerators: 64
    write: true
    results_dir: /srv/mlperf/results
    data_dir: /mnt/storage/data
    org: ExampleCorp
    system: es-2000-8c
  register: size

- name: Checkpoint sizes of llama3-70b on 8 hosts of 8 processes
  mlperf.storage.datasize:
    model: llama3-70b
    accelerator: b200
    num_client_hosts: 8
    client_memory_gb: 1024
    accelerators_per_host: 8
"""

RETURN = r"""
benchmark:
  description: V(training) or V(checkpointing), from the model.
  returned: success
  type: str
  sample: training
lines:
  description: The answer as text, one line per item (what the playbook prints).
  returned: success
  type: list
  elements: str
msg:
  description: The lines joined, or the numbered problems with their fixes when the inputs are wrong.
  returned: always
  type: str
sizing:
  description:
    - The whole answer. Always C(edition), C(division), C(model), C(accelerator), C(num_client_hosts),
      C(client_memory_gb), C(accelerators_per_host), C(cluster_accelerators).
    - Training adds C(num_accelerators) (the count sized for), C(max_accelerators), C(total_memory_bytes),
      C(datasize) (C(required_files), C(files_by_memory), C(files_by_steps), C(dominant), C(total_disk_bytes),
      C(required_subfolders), C(suggested_subfolders), C(memory_source)), C(workload) (C(name),
      C(record_length_bytes), C(num_samples_per_file), C(batch_size)), C(rules) (C(steps_per_epoch),
      C(memory_multiplier), C(rounding)) and C(search) (C(counts), C(memory_dominates), C(steps_dominate) as
      C(from)/C(to) accelerator counts or null, C(rows) per count).
    - Checkpointing adds C(num_processes) and C(checkpoint) (C(per_rank_gb), C(total_gb), C(zero_level),
      C(model_gb), C(optimizer_gb), C(checkpoint_size_gb), C(writes), C(reads), C(written_gb), C(read_gb),
      C(per_host_checkpoint_gb), and C(accelerator_memory_gb), C(aggregate_accelerator_memory_gb) where the
      edition has accelerator memory).
  returned: success
  type: dict
leaf:
  description: C(base), the folder a new timestamped datasize leaf is made in
    (C(<results>/<division>/<org>/results/<system>/training/<model>/datasize)), and C(plan), the input of the
    filter C(mlperf.storage.run_metadata) for its C(training_<ts>_metadata.json).
  returned: when write is true
  type: dict
errors:
  description: The problems ({variable, message, fix}) when the inputs are wrong.
  returned: failure
  type: list
  elements: dict
"""
