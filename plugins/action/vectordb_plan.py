# -*- coding: utf-8 -*-
# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller-side plan of the vector database benchmark (documented in plugins/modules/vectordb_plan.py)."""
from __future__ import annotations

from ansible_collections.mlperf.storage.plugins.plugin_utils import _vectordb
from ansible_collections.mlperf.storage.plugins.plugin_utils._plan_action import PlanAction, argument_spec


class ActionModule(PlanAction):
    LABEL = "vector database"
    # the client runs on the launcher alone: no clients, no MPI
    ARGUMENT_SPEC = argument_spec(dict(
        settings=dict(type="dict", required=True),
        runs=dict(type="int", default=0),
    ), clients=False)

    def request(self, args, hostvars):
        req = super().request(args, hostvars)
        settings = req.pop("settings")
        # the benchmark's own settings sit at the top of the request, as the plan reads them
        return dict(settings, **req)

    def plan(self, req):
        return _vectordb.plan_vectordb(req)
