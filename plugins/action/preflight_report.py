# -*- coding: utf-8 -*-
# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

# Documentation: plugins/modules/preflight_report.py (ansible-doc -t module mlperf.storage.preflight_report)

from ansible.plugins.action import ActionBase
from ansible_collections.mlperf.storage.plugins.plugin_utils import _preflight


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("clients", "launcher", "accelerators_per_host", "mpi_implementation",
                             "require_shared", "checks"))

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        args = self._task.args
        hostvars = task_vars.get("hostvars", {})
        reports = []
        for host in args["clients"]:
            hv = hostvars.get(host, {})
            report = dict(hv.get("preflight_host_report") or {})
            reach = hv.get("preflight_reach") or {}
            if not report and reach.get("failed") and not reach.get("unreachable"):
                report = {"host": host, "facts_error": reach.get("msg") or "fact gathering failed"}
            elif not report:
                report = {"host": host, "unreachable": True,
                          "unreachable_msg": reach.get("msg") or "the host did not complete the preflight checks"}
            report.setdefault("host", host)
            reports.append(report)
        problems = _preflight.evaluate(
            reports, launcher=args["launcher"],
            accelerators_per_host=int(args.get("accelerators_per_host", 1)),
            require_shared=tuple(args.get("require_shared", ["data_dir"])),
            mpi_implementation=args.get("mpi_implementation"),
            checks=tuple(args.get("checks") or _preflight.ALL_CHECKS))
        table = _preflight.format_table(problems, list(args["clients"]))
        result.update(changed=False, problems=problems, table=table)
        if any(p["severity"] == "error" for p in problems):
            result["failed"] = True
            result["msg"] = "Preflight found problems; nothing was started.\n" + table
        else:
            result["msg"] = table
        return result
