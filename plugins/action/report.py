# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller-side report of a results tree: HTML page, rollups, system descriptions, package."""
from __future__ import annotations

import os

from ansible_collections.mlperf.storage.plugins.plugin_utils._controller_action import ControllerAction
from ansible_collections.mlperf.storage.plugins.plugin_utils.report import ReportError, build_report

ARGUMENT_SPEC = {
    "results_dir": {"type": "path", "required": True, "aliases": ["path"]},
    "html_file": {"type": "path"},
    "edition": {"type": "str"},
    "rollups": {"type": "bool", "default": True},
    "systems": {"type": "bool", "default": True},
    "system_description": {"type": "dict", "default": {}},
    "overwrite_systems": {"type": "bool", "default": False},
    "package_dir": {"type": "path"},
    "plots": {"type": "bool", "default": True},
    "plot_format": {"type": "str", "default": "svg", "choices": ["svg", "png"]},
    "title": {"type": "str"},
    "publish_stats": {"type": "bool", "default": True},
}


class ActionModule(ControllerAction):
    ARGUMENT_SPEC = ARGUMENT_SPEC

    def act(self, result, args, task_vars):
        results_dir = os.path.abspath(os.path.expanduser(args["results_dir"]))
        if self._task.check_mode and not os.path.isdir(results_dir):
            # a check-mode benchmark play created no tree; there is nothing to report yet
            result.update(skipped=True, changed=False, html_file=None,
                          msg="would report on %s once it exists (check mode wrote no results)" % results_dir)
            return result
        try:
            built = build_report(
                args["results_dir"], html_file=args.get("html_file"), edition=args.get("edition"),
                write_rollups=args["rollups"], write_systems=args["systems"],
                system_description=args["system_description"], overwrite_systems=args["overwrite_systems"],
                package_dir=args.get("package_dir"), with_plots=args["plots"], plot_format=args["plot_format"],
                title=args.get("title"), check_mode=bool(self._task.check_mode))
        except ReportError as exc:
            result.update(failed=True, msg="report not written: %s" % exc)
            return result
        result.update(built)
        # the report never gates; it changes files unless check mode
        result["changed"] = not self._task.check_mode
        open_systems = [s for s in built["systems"] if s["open_fields"]]
        result["msg"] = "report %s (%s, %d plot(s)); %d rollup file(s)%s" % (
            built["html_file"], built["verdict"], built["plots"], len(built["rollup_files"]),
            "; system description(s) %s need the storage product fields marked FILL IN"
            % ", ".join(s["file"] for s in open_systems) if open_systems else "")
        if args["publish_stats"]:
            result["ansible_stats"] = {
                # not mlperf_results_dir: that one is the verify step's (the verified tree)
                "data": {"mlperf_report_html": built["html_file"], "mlperf_report_verdict": built["verdict"]},
                "per_host": False,
                "aggregate": True,
            }
        if built["notes"]:
            result["warnings"] = list(built["notes"])
        return result
