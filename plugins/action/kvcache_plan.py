# -*- coding: utf-8 -*-
# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller-side plan of the KV-cache benchmark (documented in plugins/modules/kvcache_plan.py)."""
from __future__ import annotations

from ansible_collections.mlperf.storage.plugins.plugin_utils import _kvcache_plan
from ansible_collections.mlperf.storage.plugins.plugin_utils._plan_action import PlanAction, argument_spec


class ActionModule(PlanAction):
    LABEL = "KV-cache"
    ARGUMENT_SPEC = argument_spec(dict(
        processes_per_host=dict(type="int", required=True),
        options=dict(type="list", elements="str", default=[]),
        seed=dict(type="int", required=True),
        trials=dict(type="int", required=True),
        inter_option_delay=dict(type="int", required=True),
        overrides=dict(type="raw", default={}),  # type checked by the plan, which names kvcache_overrides
        config=dict(type="str"),
        features=dict(type="raw", default={}),  # type checked by the plan, which names the kvcache_<feature> variable
        cache_dir=dict(type="str", required=True),
        filesystems=dict(type="dict"),
    ))

    def plan(self, req):
        return _kvcache_plan.plan_kvcache(req)
