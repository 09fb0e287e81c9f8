# -*- coding: utf-8 -*-
# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
---
module: preflight_report
short_description: Gather every client's preflight findings into one table and fail once
version_added: "0.1.0"
description:
  - Runs on the controller (use C(run_once)). Reads the C(preflight_host_report) fact that the
    M(mlperf.storage.preflight) role left on every client, and the registered reachability result of hosts
    that could not be reached, evaluates them together and fails once with a per-host table of every problem.
  - Warnings are shown but do not fail the task.
options:
  clients:
    description: The client hosts to report on, in order.
    type: list
    elements: str
    required: true
  launcher:
    description: The MPI launcher host (its SSH and shared-filesystem findings are evaluated).
    type: str
    required: true
  accelerators_per_host:
    description: Simulated accelerators per client, for the core and memory checks.
    type: int
    default: 1
  mpi_implementation:
    description: MPI implementation every client must have.
    type: str
  require_shared:
    description: Directory names that must be one shared filesystem across clients.
    type: list
    elements: str
    default: [data_dir]
attributes:
  check_mode:
    support: full
author:
  - mlperf.storage contributors
"""

EXAMPLES = r"""
- name: Report every problem of every client at once
  mlperf.storage.preflight_report:
    clients: "{{ groups['clients'] }}"
    launcher: "{{ groups['clients'][0] }}"
  run_once: true
  delegate_to: localhost
"""

RETURN = r"""
problems:
  description: Every problem found, with host, check, severity, message and fix.
  returned: always
  type: list
  elements: dict
table:
  description: The same as a readable table.
  returned: always
  type: str
"""

from ansible.plugins.action import ActionBase
from ansible_collections.mlperf.storage.plugins.plugin_utils import _preflight


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("clients", "launcher", "accelerators_per_host", "mpi_implementation",
                             "require_shared"))

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
            mpi_implementation=args.get("mpi_implementation"))
        table = _preflight.format_table(problems, list(args["clients"]))
        result.update(changed=False, problems=problems, table=table)
        if any(p["severity"] == "error" for p in problems):
            result["failed"] = True
            result["msg"] = "Preflight found problems; nothing was started.\n" + table
        else:
            result["msg"] = table
        return result
