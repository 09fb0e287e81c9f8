# -*- coding: utf-8 -*-
# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller-side history of a results tree (documented in plugins/modules/history.py; core in _history)."""
from __future__ import annotations

import os

from ansible_collections.mlperf.storage.plugins.plugin_utils import _history
from ansible_collections.mlperf.storage.plugins.plugin_utils._controller_action import ControllerAction

ARGUMENT_SPEC = {
    "path": {"type": "path", "required": True},
    "state": {"type": "str", "default": "list", "choices": ["list", "present"]},
    "benchmark": {"type": "str", "choices": sorted(_history.PLAYBOOKS)},
    "hosts": {"type": "list", "elements": "str", "default": []},
    "run_dirs": {"type": "list", "elements": "str", "default": []},
    "verdict": {"type": "str"},
    "outcome": {"type": "str"},
    "started": {"type": "str"},
    "entry": {"type": "str"},
    "last": {"type": "int", "default": 20},
}


class ActionModule(ControllerAction):
    ARGUMENT_SPEC = ARGUMENT_SPEC

    def act(self, result, args, task_vars):
        path = os.path.abspath(os.path.expanduser(args["path"]))
        result["changed"] = False
        if args["state"] == "present":
            return self._record(result, args, task_vars, path)
        records, problems = _history.read(path)
        result.update(entries=records, lines=_history.lines(records, args["last"]), problems=problems)
        if problems:
            result["warnings"] = ["history: %s" % p for p in problems]
        if args.get("entry"):
            try:
                result["entry"] = _history.find(records, args["entry"])
            except _history.HistoryError as exc:
                result.update(failed=True, msg=str(exc))
                return result
        result["msg"] = "%d history entr%s in %s" % (len(records), "y" if len(records) == 1 else "ies", path)
        return result

    def _record(self, result, args, task_vars, path):
        if self._task.check_mode:
            result.update(skipped=True, msg="check mode runs nothing, so nothing is recorded")
            return result
        variables = {}
        for name in sorted(_history.interface_variables()):
            if name not in task_vars or _is_vaulted(task_vars[name]):
                continue
            variables[name] = self.task_var(task_vars, name)
        try:
            record = _history.append(
                path, args.get("benchmark") or "", variables, hosts=args["hosts"], run_dirs=args["run_dirs"],
                verdict=args.get("verdict"), outcome=args.get("outcome"), started=args.get("started"),
                inventory=[str(s) for s in task_vars.get("ansible_inventory_sources") or []])
        except _history.HistoryError as exc:
            # the benchmark's results are kept whatever happens here: a history that cannot be written is a warning
            result.update(msg="history not recorded: %s" % exc, warnings=["history not recorded: %s" % exc])
            return result
        result.update(changed=True, entry=record, msg="history entry %s: rerun with %s" % (record["id"],
                                                                                           record["rerun"]))
        return result


def _is_vaulted(value):
    return type(value).__name__ in ("AnsibleVaultEncryptedUnicode", "EncryptedString")
