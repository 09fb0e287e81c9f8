# -*- coding: utf-8 -*-
# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

# Documentation: plugins/modules/telemetry_collect.py (ansible-doc -t module mlperf.storage.telemetry_collect)

from ansible.plugins.action import ActionBase

from ansible_collections.mlperf.storage.plugins.plugin_utils._telemetry import TelemetryError, build_run_telemetry

ARGUMENT_SPEC = dict(
    collect_dir=dict(type="path", required=True),
    benchmark=dict(type="str", required=True),
    timestamp=dict(type="str", required=True),
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
            result.update(skipped=True, msg="telemetry_collect writes the results tree; skipped in check mode")
            return result
        _, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        try:
            summary = build_run_telemetry(
                collect_dir=args["collect_dir"], benchmark=args["benchmark"], timestamp=str(args["timestamp"]),
                host_results=args["host_results"], hosts_requested=args["hosts_requested"],
                interval=args["interval"])
        except TelemetryError as exc:
            result.update(failed=True, msg="telemetry_collect: %s" % exc)
            return result
        except (IOError, OSError) as exc:
            result.update(failed=True, msg="telemetry_collect: cannot write the telemetry tree under %s: %s; "
                                           "check that the directory is writable on the controller"
                                           % (args["collect_dir"], exc))
            return result
        for warning in summary["warnings"]:
            self._display.warning("telemetry: %s" % warning)
        result.update(changed=True, ansible_facts={"telemetry_summary": summary},
                      index=summary["timeseries_data"]["file"], warnings_count=len(summary["warnings"]))
        return result
