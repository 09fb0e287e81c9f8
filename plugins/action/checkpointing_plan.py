# -*- coding: utf-8 -*-
# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
---
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
    that cannot run checkpointing (the PyPI DLIO 2.0.0 build; the message names C(mlperf_env_profile: submission)),
    an override CLOSED does not allow, an INVALID plan without O(allow_invalid).
options:
  edition:
    description: Rules edition.
    type: str
    required: true
  division:
    description: Division (closed, open, whatif).
    type: str
    required: true
  model:
    description: Checkpointing model (llama3-8b, llama3-70b, llama3-405b, llama3-1t).
    type: str
    required: true
  accelerator:
    description: Simulated accelerator; its memory must hold the checkpoint across all processes.
    type: str
    required: true
  params:
    description: Dotted workload overrides (only C(checkpoint.checkpoint_folder) in CLOSED).
    type: dict
    default: {}
  clients:
    description: Client hosts in launch order.
    type: list
    elements: str
    required: true
  launcher:
    description: The MPI launcher host.
    type: str
    required: true
  accelerators_per_host:
    description: Processes (simulated accelerators) per client.
    type: int
    required: true
  split:
    description: Run the 10 writes and the 10 reads as two invocations (write, then read) instead of one.
    type: bool
    default: false
  checkpoint_folder:
    description: Directory on the storage under test; the model's checkpoints go to C(<checkpoint_folder>/<model>).
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
    description: C(results_dir), C(work_dir) and C(venv_bin) on the clients.
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
- name: Plan the checkpointing benchmark
  mlperf.storage.checkpointing_plan:
    edition: "3.0"
    division: closed
    model: llama3-8b
    accelerator: b200
    clients: "{{ groups['clients'] }}"
    launcher: "{{ groups['clients'][0] }}"
    accelerators_per_host: 8
    checkpoint_folder: /mnt/storage/checkpoints
    org: example-org
    system: example-system
    paths:
      results_dir: /shared/results
      work_dir: /var/tmp/mlperf-storage/work
      venv_bin: /opt/mlperf-storage/venv/bin
  run_once: true
  delegate_to: localhost
  register: checkpointing_plan
"""

RETURN = r"""
plan:
  description: The plan (phases with their commands, metadata and classification; datasize, paths, warnings, notes).
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
from ansible_collections.mlperf.storage.plugins.plugin_utils import _checkpointing_plan

ARGUMENT_SPEC = dict(
    edition=dict(type="str", required=True),
    division=dict(type="str", required=True),
    model=dict(type="str", required=True),
    accelerator=dict(type="str", required=True),
    params=dict(type="raw", default={}),  # type checked by the plan, which names mlperf_params
    clients=dict(type="list", elements="str", required=True),
    launcher=dict(type="str", required=True),
    accelerators_per_host=dict(type="int", required=True),
    split=dict(type="bool", default=False),
    checkpoint_folder=dict(type="str", required=True),
    org=dict(type="str", required=True),
    system=dict(type="str", required=True),
    paths=dict(type="dict", required=True),
    allow_invalid=dict(type="bool", default=False),
    mpi_extra_args=dict(type="list", elements="str", default=[]),
)


def failure_message(errors):
    lines = ["The checkpointing plan has %d problem(s); nothing was started:" % len(errors)]
    for number, err in enumerate(errors, 1):
        lines.append("%d. [%s] %s" % (number, err["variable"], err["message"]))
        lines.append("   fix: %s" % err["fix"])
    return "\n".join(lines)


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
        mpi_fact = (launcher_vars.get("ansible_facts", {}) or {}).get("mlperf_mpi") or {}
        user = (launcher_vars.get("ansible_facts", {}) or {}).get("user_id")
        req = {
            "edition": str(args["edition"]), "division": args["division"], "model": args["model"],
            "accelerator": args["accelerator"], "params": args.get("params") or {},
            "clients": [client_record(h, hostvars.get(h, {})) for h in args["clients"]],
            "launcher": args["launcher"], "accelerators_per_host": int(args["accelerators_per_host"]),
            "split": bool(args["split"]), "checkpoint_folder": args["checkpoint_folder"],
            "engine": {"generation": header.get("engine_generation"), "source": header.get("engine_source"),
                       "version": header.get("engine_version"),
                       "profile": header.get("profile"), "lock_hash": env.get("lock_hash")},
            "mpi": {"implementation": mpi_fact.get("implementation") or "mpich", "version": mpi_fact.get("version"),
                    "mpirun": mpi_fact.get("mpirun"), "run_as_root": user == "root",
                    "extra_args": args.get("mpi_extra_args") or []},
            "paths": dict(args["paths"]), "org": args["org"], "system": args["system"],
            "allow_invalid": bool(args.get("allow_invalid")),
        }
        plan = _checkpointing_plan.plan_checkpointing(req)
        if plan["errors"]:
            result.update(changed=False, failed=True, msg=failure_message(plan["errors"]),
                          errors=plan["errors"], plan_warnings=plan["warnings"])
        else:
            result.update(changed=False, plan=plan)
        return result
