#!/usr/bin/python
# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# Documentation stub: the work is done by the action plugin of the same name on the controller.
from __future__ import annotations

DOCUMENTATION = r"""
module: vectordb_plan
short_description: Plan a vector database benchmark on the controller before anything runs
version_added: "0.1.0"
description:
  - Decides everything about a vector database benchmark from the inventory, the C(vectordb_*) variables and the
    launcher's environment lock. It decides the backend (milvus-lite on the launcher or an existing Milvus), whether it can
    build the index, the client command lines of the load (datagen) phase and of each search run, the results
    paths C(vector_database/milvus/<INDEX>/<command>/<ts>), the metadata skeleton, and the rules engine's
    classification of the planned run.
  - A milvus-lite backend is not a Milvus deployment, so its result can only be OPEN; in the closed division
    that is an error before anything runs.
  - Fails, before anything runs, with every problem found (an index the backend cannot build, a bad setting,
    an INVALID plan without O(allow_invalid), an OPEN plan in the closed division).
extends_documentation_fragment:
  - mlperf.storage.common
  - mlperf.storage.common.controller
  - mlperf.storage.plan
options:
  settings:
    description:
      - The benchmark settings (keys of C(_vectordb.plan_vectordb)), for example C(server_mode), C(client),
        C(index_type), C(dimension), C(num_vectors), C(mode), C(runtime), C(queries), C(processes), C(steps)
        (V(load) and/or V(search); the plan's C(steps) and C(collection_record), the load settings the load records
        on the collection and a search without a load expects there).
    type: dict
    required: true
  runs:
    description: Number of search runs; 0 uses the edition's count.
    type: int
    default: 0
  paths:
    description: C(data_dir), C(results_dir), C(controller_results_dir), C(work_dir), C(venv_bin), C(client_script) and C(vdbbench_bin).
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Plan the vector database benchmark
  mlperf.storage.vectordb_plan:
    edition: "3.0"
    division: open
    launcher: "{{ mlperf_launcher_host }}"
    org: example-org
    system: example-system
    settings:
      server_mode: embedded
      index_type: HNSW
      dimension: 128
      num_vectors: 10000
      mode: query_count
      queries: 2000
      processes: 2
    paths:
      data_dir: /mnt/storage/data
      results_dir: /shared/results
      work_dir: /var/tmp/mlperf-storage/work
      venv_bin: /var/tmp/mlperf-storage/venv-vectordb/bin
      client_script: /var/tmp/mlperf-storage/work/mlperf_vdb_client.py
  run_once: true
  delegate_to: localhost
  register: vectordb_plan_result
"""

RETURN = r"""
plan:
  description: The plan (settings, commands, server, paths, parameters, classification, warnings, notes).
  returned: success
  type: dict
"""
