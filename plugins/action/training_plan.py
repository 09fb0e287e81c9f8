# -*- coding: utf-8 -*-
# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

# Documentation: plugins/modules/training_plan.py (ansible-doc -t module mlperf.storage.training_plan)

from ansible.plugins.action import ActionBase
from ansible_collections.mlperf.storage.plugins.plugin_utils._plan_inputs import (
    client_record, launcher_engine, launcher_mpi)
from ansible_collections.mlperf.storage.plugins.plugin_utils import _training_plan
from ansible_collections.mlperf.storage.plugins.plugin_utils._earlier_runs import existing_runs


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
        req = {
            "edition": str(args["edition"]), "division": args["division"], "model": args["model"],
            "accelerator": args["accelerator"], "params": args.get("params") or {},
            "clients": [client_record(h, hostvars.get(h, {})) for h in args["clients"]],
            "launcher": args["launcher"], "accelerators_per_host": int(args["accelerators_per_host"]),
            "client_memory_gb": float(args.get("client_memory_gb") or 0), "runs": int(args.get("runs") or 0),
            "engine": launcher_engine(launcher_vars),
            "mpi": launcher_mpi(launcher_vars, args.get("mpi_extra_args")),
            "paths": dict(args["paths"]), "org": args["org"], "system": args["system"],
            "allow_invalid": bool(args.get("allow_invalid")),
        }
        # the controller's tree is the one verified: runs already there are counted with the new ones
        controller = (args["paths"] or {}).get("controller_results_dir")
        if controller:
            base = _training_plan.results_base(dict(req, paths={"results_dir": controller}), "training",
                                               args["model"])
            req["existing_runs"] = existing_runs(base + "/run")
        plan = _training_plan.plan_training(req)
        if plan["errors"]:
            # the problems only: the whole plan would bury the message under pages of JSON
            result.update(changed=False, failed=True, msg=failure_message(plan["errors"]),
                          errors=plan["errors"], plan_warnings=plan["warnings"])
        else:
            result.update(changed=False, plan=plan)
        return result
