# -*- coding: utf-8 -*-
# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

# Documentation: plugins/modules/kvcache_plan.py (ansible-doc -t module mlperf.storage.kvcache_plan)

from ansible.plugins.action import ActionBase
from ansible_collections.mlperf.storage.plugins.plugin_utils._plan_inputs import client_record
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
