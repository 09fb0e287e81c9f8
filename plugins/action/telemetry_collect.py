# -*- coding: utf-8 -*-
# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

# Documentation: plugins/modules/telemetry_collect.py (ansible-doc -t module mlperf.storage.telemetry_collect)

from ansible_collections.mlperf.storage.plugins.plugin_utils._telemetry import build_run_telemetry
from ansible_collections.mlperf.storage.plugins.plugin_utils._telemetry_action import (COMMON_OPTIONS,
                                                                                        TelemetryCollectAction)

ARGUMENT_SPEC = dict(
    COMMON_OPTIONS,
    collect_dir=dict(type="path", required=True),
    timestamp=dict(type="str", required=True),
)


class ActionModule(TelemetryCollectAction):
    NAME = "telemetry_collect"
    ARGUMENT_SPEC = ARGUMENT_SPEC

    def target(self, args):
        return "the telemetry tree under %s" % args["collect_dir"]

    def collect(self, result, args):
        summary = build_run_telemetry(
            collect_dir=args["collect_dir"], benchmark=args["benchmark"], timestamp=str(args["timestamp"]),
            host_results=args["host_results"], hosts_requested=args["hosts_requested"], interval=args["interval"])
        result.update(ansible_facts={"telemetry_summary": summary}, index=summary["timeseries_data"]["file"],
                      warnings_count=len(summary["warnings"]))
        return [summary]
