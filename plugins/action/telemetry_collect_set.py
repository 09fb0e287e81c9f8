# -*- coding: utf-8 -*-
# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

# Documentation: plugins/modules/telemetry_collect_set.py (ansible-doc -t module mlperf.storage.telemetry_collect_set)

from ansible_collections.mlperf.storage.plugins.plugin_utils._telemetry import build_run_set_telemetry
from ansible_collections.mlperf.storage.plugins.plugin_utils._telemetry_action import (COMMON_OPTIONS,
                                                                                        TelemetryCollectAction)

ARGUMENT_SPEC = dict(
    COMMON_OPTIONS,
    runs=dict(type="list", elements="dict", required=True),
    staging=dict(type="path", required=True),
)


class ActionModule(TelemetryCollectAction):
    NAME = "telemetry_collect_set"
    ARGUMENT_SPEC = ARGUMENT_SPEC

    def target(self, args):
        return "the runs' telemetry trees"

    def collect(self, result, args):
        summaries = build_run_set_telemetry(
            runs=args["runs"], benchmark=args["benchmark"], host_results=args["host_results"],
            staging=args["staging"], hosts_requested=args["hosts_requested"], interval=args["interval"])
        result.update(ansible_facts={"telemetry_summaries": summaries},
                      indexes=[s["timeseries_data"]["file"] for s in summaries.values()])
        return list(summaries.values())
