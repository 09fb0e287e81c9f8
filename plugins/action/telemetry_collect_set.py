# -*- coding: utf-8 -*-
# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

# Documentation: plugins/modules/telemetry_collect_set.py (ansible-doc -t module mlperf.storage.telemetry_collect_set)

from ansible.plugins.action import ActionBase

from ansible_collections.mlperf.storage.plugins.plugin_utils._telemetry import (TelemetryError,
                                                                                 build_run_set_telemetry)

ARGUMENT_SPEC = dict(
    runs=dict(type="list", elements="dict", required=True),
    benchmark=dict(type="str", required=True),
    staging=dict(type="path", required=True),
    host_results=dict(type="list", elements="dict", required=True),
    hosts_requested=dict(type="list", elements="str", default=[]),
    interval=dict(type="float"),
)


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        if self._task.check_mode:
            result.update(skipped=True, msg="telemetry_collect_set writes the results tree; skipped in check mode")
            return result
        _, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        try:
            summaries = build_run_set_telemetry(
                runs=args["runs"], benchmark=args["benchmark"], host_results=args["host_results"],
                staging=args["staging"], hosts_requested=args["hosts_requested"], interval=args["interval"])
        except TelemetryError as exc:
            result.update(failed=True, msg="telemetry_collect_set: %s" % exc)
            return result
        except (IOError, OSError) as exc:
            result.update(failed=True, msg="telemetry_collect_set: cannot write the runs' telemetry trees: %s; "
                                           "check that the run directories are writable on the controller" % exc)
            return result
        shown = set()
        for summary in summaries.values():
            for warning in summary["warnings"]:
                if warning not in shown:
                    shown.add(warning)
                    self._display.warning("telemetry: %s" % warning)
        result.update(changed=True, ansible_facts={"telemetry_summaries": summaries},
                      indexes=[s["timeseries_data"]["file"] for s in summaries.values()])
        return result
