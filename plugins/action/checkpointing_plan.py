# -*- coding: utf-8 -*-
# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller-side plan of the checkpointing benchmark (documented in plugins/modules/checkpointing_plan.py)."""
from __future__ import annotations

from ansible_collections.mlperf.storage.plugins.plugin_utils import _checkpointing_plan
from ansible_collections.mlperf.storage.plugins.plugin_utils._plan_action import PlanAction, argument_spec


class ActionModule(PlanAction):
    LABEL = "checkpointing"
    ARGUMENT_SPEC = argument_spec(dict(
        split=dict(type="bool", default=False),
        subset=dict(type="bool", default=False),
        checkpoint_folder=dict(type="str", required=True),
        num_checkpoints_write=dict(type="int", default=10),
        num_checkpoints_read=dict(type="int", default=10),
    ), dlio=True)

    def plan(self, req):
        return _checkpointing_plan.plan_checkpointing(req)
