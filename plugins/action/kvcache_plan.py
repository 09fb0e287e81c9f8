# -*- coding: utf-8 -*-
# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
---
module: kvcache_plan
short_description: Plan a KV-cache benchmark run on the controller before anything runs
version_added: "0.1.0"
description:
  - Decides everything about a KV-cache run - the rank layout, the options of rules Table KVCache-1 with their trials
    and the inter-option delay, the MPI command of every option/trial invocation of the upstream wrapper, the results
    path, and the rules engine's classification of the planned run - in the plan shape the
    M(mlperf.storage.run_phase) role runs (one leaf, one engine process - the kvcache role's runner).
  - Fails, before anything runs, with every problem found - a changed seed, trial count or inter-option delay in
    CLOSED, OPEN-only overrides in CLOSED, the cache and results directories on one filesystem in CLOSED, an
    environment that is not the kv-cache lock.
options:
  edition:
    description: Rules edition.
    type: str
    required: true
  division:
    description: Division (closed, open, whatif).
    type: str
    required: true
  clients:
    description: Client hosts in launch order.
    type: list
    elements: str
    required: true
  launcher:
    description: The MPI launcher host.
    type: str
    required: true
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
    type: dict
    default: {}
  config:
    description: OPEN only - a custom configuration file of the kv-cache program.
    type: str
  cache_dir:
    description: The KV-cache directory on the storage under test (each rank uses its own subdirectory).
    type: str
    required: true
  filesystems:
    description: What M(mlperf.storage.dir_probe) found for the cache and results directories (C(same_filesystem)).
    type: dict
  org:
    description: Organisation (results path segment).
    type: str
    required: true
  system:
    description: System name (results path segment).
    type: str
    required: true
  paths:
    description: C(results_dir), C(work_dir), C(venv_bin), C(runner), C(spec) and optionally C(wrapper) on the launcher.
    type: dict
    required: true
  allow_invalid:
    description: Run an INVALID plan anyway (recorded).
    type: bool
    default: false
  mpi_extra_args:
    description: Site flags for the MPI launcher, placed before the program.
    type: list
    elements: str
    default: []
attributes:
  check_mode:
    support: full
author:
  - mlperf.storage contributors
"""

EXAMPLES = r"""
- name: Plan the KV-cache benchmark
  mlperf.storage.kvcache_plan:
    edition: "3.0"
    division: closed
    clients: "{{ groups['clients'] }}"
    launcher: "{{ groups['clients'][0] }}"
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
  run_once: true
  delegate_to: localhost
  register: kvcache_plan
"""

RETURN = r"""
plan:
  description: The plan (runner_spec with every invocation, settings per option, commands, metadata, classification).
  returned: success
  type: dict
errors:
  description: Every problem that stops the plan, each with C(variable), C(message) and C(fix).
  returned: failure
  type: list
  elements: dict
"""

from ansible.plugins.action import ActionBase
from ansible_collections.mlperf.storage.plugins.action.training_plan import client_record
from ansible_collections.mlperf.storage.plugins.plugin_utils import _kvcache_plan

ARGUMENT_SPEC = dict(
    edition=dict(type="str", required=True),
    division=dict(type="str", required=True),
    clients=dict(type="list", elements="str", required=True),
    launcher=dict(type="str", required=True),
    processes_per_host=dict(type="int", required=True),
    options=dict(type="list", elements="str", default=[]),
    seed=dict(type="int", required=True),
    trials=dict(type="int", required=True),
    inter_option_delay=dict(type="int", required=True),
    overrides=dict(type="raw", default={}),  # type checked by the plan, which names kvcache_overrides
    config=dict(type="str"),
    cache_dir=dict(type="str", required=True),
    filesystems=dict(type="dict"),
    org=dict(type="str", required=True),
    system=dict(type="str", required=True),
    paths=dict(type="dict", required=True),
    allow_invalid=dict(type="bool", default=False),
    mpi_extra_args=dict(type="list", elements="str", default=[]),
)


class ActionModule(ActionBase):
    TRANSFERS_FILES = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        args = dict(args)
        hostvars = task_vars.get("hostvars", {})
        launcher_vars = hostvars.get(args["launcher"], {})
        env = launcher_vars.get("python_env_result") or {}
        header = env.get("header") or {}
        facts = launcher_vars.get("ansible_facts", {}) or {}
        mpi_fact = facts.get("mlperf_mpi") or {}
        req = dict(args)
        req.update(
            clients=[client_record(h, hostvars.get(h, {})) for h in args["clients"]],
            engine={"name": header.get("engine"), "generation": header.get("engine_generation"),
                    "source": header.get("engine_source"), "version": header.get("engine_version"),
                    "profile": header.get("profile"), "lock_hash": env.get("lock_hash")},
            mpi={"implementation": mpi_fact.get("implementation") or "mpich", "version": mpi_fact.get("version"),
                 "mpirun": mpi_fact.get("mpirun"), "run_as_root": facts.get("user_id") == "root",
                 "extra_args": args.get("mpi_extra_args") or []},
        )
        plan = _kvcache_plan.plan_kvcache(req)
        if plan["errors"]:
            lines = ["The KV-cache plan has %d problem(s); nothing was started:" % len(plan["errors"])]
            for number, err in enumerate(plan["errors"], 1):
                lines.append("%d. [%s] %s" % (number, err["variable"], err["message"]))
                lines.append("   fix: %s" % err["fix"])
            result.update(changed=False, failed=True, msg="\n".join(lines), errors=plan["errors"],
                          plan_warnings=plan["warnings"])
        else:
            result.update(changed=False, plan=plan)
        return result
