# -*- coding: utf-8 -*-
# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller-side plan of the training benchmark (documented in plugins/modules/training_plan.py)."""
from __future__ import annotations

from ansible_collections.mlperf.storage.plugins.plugin_utils import _training_plan
from ansible_collections.mlperf.storage.plugins.plugin_utils._earlier_runs import existing_runs
from ansible_collections.mlperf.storage.plugins.plugin_utils._plan_action import PlanAction, argument_spec
from ansible_collections.mlperf.storage.plugins.plugin_utils.rules import layout


class ActionModule(PlanAction):
    LABEL = "training"
    ARGUMENT_SPEC = argument_spec(dict(
        client_memory_gb=dict(type="float", default=0),
        runs=dict(type="int", default=0),
        datagen_processes=dict(type="int", default=0),
        datagen_only=dict(type="bool", default=False),
    ), dlio=True)

    def request(self, args, hostvars):
        req = super().request(args, hostvars)
        req.update(params=args.get("params") or {}, client_memory_gb=float(args.get("client_memory_gb") or 0))
        # the controller's tree is the one verified: runs already there are counted with the new ones
        controller = req["paths"].get("controller_results_dir")
        if controller:
            base = layout.model_base(controller, req["division"], req["org"], req["system"], "training",
                                     req["model"])
            req["existing_runs"] = existing_runs(layout.command_base(base, "training", "run"))
        return req

    def plan(self, req):
        return _training_plan.plan_training(req)
