# -*- coding: utf-8 -*-
# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
---
module: training_plan
short_description: Plan a training benchmark on the controller before anything runs
version_added: "0.1.0"
description:
  - Decides everything about a training benchmark from the inventory and the clients' facts: the DLIO workload
    and overrides adapted to the installed engine generation, the dataset size from the clients' real memory,
    the MPI rank layout and command lines, the results paths, and the rules engine's classification of the
    planned run.
  - Fails, before anything runs, with every problem found (unknown model or accelerator, a pair the edition
    does not have, an override the division does not allow, a key the installed engine would silently ignore,
    an INVALID plan without O(allow_invalid), an OPEN plan in the closed division).
  - Reads, from C(hostvars), each client's C(ansible_facts) (memory, cores, user) and the launcher's
    C(python_env_result) and C(mlperf_mpi) facts left by the preflight role.
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
    description: Training model.
    type: str
    required: true
  accelerator:
    description: Simulated accelerator.
    type: str
    required: true
  params:
    description: Dotted workload overrides.
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
    description: Ranks per client.
    type: int
    required: true
  client_memory_gb:
    description: Per-client memory (GiB) for the dataset size; 0 uses MemTotal.
    type: float
    default: 0
  runs:
    description: Number of runs; 0 uses the edition's count.
    type: int
    default: 0
  org:
    description: Organisation (results path segment).
    type: str
    required: true
  system:
    description: System name (results path segment).
    type: str
    required: true
  paths:
    description: C(data_dir), C(results_dir), C(work_dir) and C(venv_bin) on the clients.
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
- name: Plan the training benchmark
  mlperf.storage.training_plan:
    edition: "3.0"
    division: closed
    model: unet3d
    accelerator: b200
    clients: "{{ groups['clients'] }}"
    launcher: "{{ groups['clients'][0] }}"
    accelerators_per_host: 8
    org: example-org
    system: example-system
    paths:
      data_dir: /mnt/storage/data
      results_dir: /shared/results
      work_dir: /var/tmp/mlperf-storage/work
      venv_bin: /opt/mlperf-storage/venv/bin
  run_once: true
  delegate_to: localhost
  register: training_plan
"""

RETURN = r"""
plan:
  description: The plan (datasize, commands, paths, parameters, classification, warnings, notes).
  returned: success
  type: dict
errors:
  description: Every problem that stops the plan, each with C(variable), C(message) and C(fix).
  returned: failure
  type: list
  elements: dict
plan_warnings:
  description: The plan's warnings, when it fails.
  returned: failure
  type: list
  elements: str
"""

from ansible.plugins.action import ActionBase
from ansible_collections.mlperf.storage.plugins.plugin_utils import _training_plan


def client_record(host, hv):
    facts = hv.get("ansible_facts", {}) or {}
    meminfo = ((facts.get("mlperf_proc") or {}).get("meminfo") or {})
    memtotal = meminfo.get("MemTotal")
    if not memtotal and facts.get("memtotal_mb"):
        memtotal = int(facts["memtotal_mb"]) * 1024 * 1024
    cores = facts.get("processor_nproc") or facts.get("processor_vcpus")
    return {"host": host, "mpi_host": hv.get("mlperf_mpi_host") or host,
            "memtotal_bytes": int(memtotal) if memtotal else None, "cores": int(cores) if cores else None}


ARGUMENT_SPEC = dict(
    edition=dict(type="str", required=True),
    division=dict(type="str", required=True),
    model=dict(type="str", required=True),
    accelerator=dict(type="str", required=True),
    params=dict(type="raw", default={}),  # type checked by the plan, which names mlperf_params
    clients=dict(type="list", elements="str", required=True),
    launcher=dict(type="str", required=True),
    accelerators_per_host=dict(type="int", required=True),
    client_memory_gb=dict(type="float", default=0),
    runs=dict(type="int", default=0),
    org=dict(type="str", required=True),
    system=dict(type="str", required=True),
    paths=dict(type="dict", required=True),
    allow_invalid=dict(type="bool", default=False),
    mpi_extra_args=dict(type="list", elements="str", default=[]),
)


def failure_message(errors):
    """The terminal text of a plan that cannot start: one numbered problem per entry, each with its fix."""
    lines = ["The training plan has %d problem(s); nothing was started:" % len(errors)]
    for number, err in enumerate(errors, 1):
        lines.append("%d. [%s] %s" % (number, err["variable"], err["message"]))
        lines.append("   fix: %s" % err["fix"])
    if any(err["message"].startswith("the planned run would be INVALID") for err in errors):
        lines.append("A run that is only INVALID can still be made with mlperf_allow_invalid: true "
                     "(recorded in its metadata; never a valid submission).")
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
            "client_memory_gb": float(args.get("client_memory_gb") or 0), "runs": int(args.get("runs") or 0),
            "engine": {"generation": header.get("engine_generation"), "source": header.get("engine_source"),
                       "version": header.get("engine_version"),
                       "profile": header.get("profile"), "lock_hash": env.get("lock_hash")},
            "mpi": {"implementation": mpi_fact.get("implementation") or "mpich", "version": mpi_fact.get("version"),
                    "mpirun": mpi_fact.get("mpirun"), "run_as_root": user == "root",
                    "extra_args": args.get("mpi_extra_args") or []},
            "paths": dict(args["paths"]), "org": args["org"], "system": args["system"],
            "allow_invalid": bool(args.get("allow_invalid")),
        }
        plan = _training_plan.plan_training(req)
        if plan["errors"]:
            # the problems only: the whole plan would bury the message under pages of JSON
            result.update(changed=False, failed=True, msg=failure_message(plan["errors"]),
                          errors=plan["errors"], plan_warnings=plan["warnings"])
        else:
            result.update(changed=False, plan=plan)
        return result
