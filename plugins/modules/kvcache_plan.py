#!/usr/bin/python
# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# Documentation stub: the work is done by the action plugin of the same name on the controller.
from __future__ import annotations

DOCUMENTATION = r"""
module: kvcache_plan
short_description: Plan a KV-cache benchmark run on the controller before anything runs
version_added: "0.1.0"
description:
  - Decides everything about a KV-cache run - the rank layout, the options of rules Table KVCache-1 with their trials
    and the inter-option delay, the MPI command of every option/trial invocation of the upstream wrapper, the results
    path, and the rules engine's classification of the planned run - in the plan shape the
    M(mlperf.storage.run_phase) role runs (one leaf, one engine process - the kvcache role's runner).
  - Fails, before anything runs, with every problem found - a changed seed, trial count or inter-option delay in
    CLOSED, OPEN-only overrides or program features in CLOSED, a bad feature value, the cache and results
    directories on one filesystem in CLOSED, an environment that is not the kv-cache lock.
extends_documentation_fragment:
  - mlperf.storage.common
  - mlperf.storage.common.controller
  - mlperf.storage.plan
  - mlperf.storage.plan.clients
options:
  processes_per_host:
    description: KV-cache ranks per client (the upstream C(--npernode)).
    type: int
    required: true
  options:
    description: Options of Table KVCache-1 to run; empty runs all (CLOSED requires all).
    type: list
    elements: str
    default: []
  seed:
    description: Seed base (rank N uses seed + N); CLOSED locks it.
    type: int
    required: true
  trials:
    description: Trials per option; CLOSED locks it.
    type: int
    required: true
  inter_option_delay:
    description: Seconds between options; CLOSED locks it.
    type: int
    required: true
  overrides:
    description: OPEN only - settings that supersede the table values of every option (model, num_users, duration,
      gpu_mem_gb, cpu_mem_gb, generation_mode).
    type: raw
    default: {}
  config:
    description: OPEN only - a custom configuration file of the kv-cache program.
    type: str
  features:
    description:
      - OPEN only - program features passed to every option and trial after the table values, by name -
        C(disable_multi_turn), C(disable_prefix_caching), C(enable_rag), C(enable_autoscaling),
        C(enable_latency_tracing) (true or false), C(rag_num_docs) (a whole number of at least 1, only with
        C(enable_rag)), C(autoscaler_mode) (C(qos) or C(capacity), only with C(enable_autoscaling)),
        C(performance_profile) (C(latency) or C(throughput)); the edition's C(open_features) table decides the
        flags and choices.
      - Unset (none, empty or false) passes nothing. Every set one is refused in CLOSED (rules 6.6.1; autoscaling
        6.3.2.2), before anything runs, as is a bad value, each naming its role variable C(kvcache_<name>).
    type: raw
    default: {}
  cache_dir:
    description: The KV-cache directory on the storage under test (each rank uses its own subdirectory).
    type: str
    required: true
  filesystems:
    description: What M(mlperf.storage.dir_probe) found for the cache and results directories (C(same_filesystem)).
    type: dict
  paths:
    description: C(results_dir), C(controller_results_dir), C(work_dir), C(venv_bin), C(runner), C(spec) and optionally C(wrapper).
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Plan the CLOSED KV-cache sequence (options 1-3, three trials each)
  mlperf.storage.kvcache_plan:
    edition: "3.0"
    division: closed
    clients: "{{ groups[mlperf_clients_group] }}"
    clients_group: "{{ mlperf_clients_group }}"
    launcher: "{{ groups[mlperf_clients_group][0] }}"
    processes_per_host: 1
    seed: 42
    trials: 3
    inter_option_delay: 90
    cache_dir: /mnt/nvme/kvcache
    org: example-org
    system: example-system
    paths:
      results_dir: /shared/results
      work_dir: /var/tmp/mlperf-storage/work
      venv_bin: /opt/mlperf-storage/kvcache-venv/bin
      runner: /var/tmp/mlperf-storage/work/mlperf_kvcache_runner.py
      spec: /var/tmp/mlperf-storage/work/kvcache_spec.json
  register: kvcache_plan_result

- name: Plan an OPEN KV-cache run with RAG (20 documents) and the throughput profile
  mlperf.storage.kvcache_plan:
    edition: "3.0"
    division: open
    clients: "{{ groups[mlperf_clients_group] }}"
    launcher: "{{ mlperf_launcher_host }}"
    processes_per_host: "{{ kvcache_processes_per_host }}"
    seed: 42
    trials: 1
    inter_option_delay: 30
    features:
      enable_rag: true
      rag_num_docs: 20
      performance_profile: throughput
    cache_dir: "{{ kvcache_cache_dir }}"
    org: "{{ mlperf_org }}"
    system: "{{ mlperf_system }}"
    paths: "{{ kvcache_plan_paths }}"  # results_dir, work_dir, venv_bin, runner, spec as in the task above
  register: kvcache_open_plan
"""

RETURN = r"""
plan:
  description: The plan (runner_spec with every invocation, settings per option, the program features used, commands,
    metadata, classification).
  returned: success
  type: dict
"""
