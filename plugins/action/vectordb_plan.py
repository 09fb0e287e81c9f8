# -*- coding: utf-8 -*-
# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller-side plan of the vector database benchmark (documented in plugins/modules/vectordb_plan.py)."""
from __future__ import annotations

from ansible.plugins.action import ActionBase
from ansible_collections.mlperf.storage.plugins.plugin_utils import _vectordb


class ActionModule(ActionBase):
    TRANSFERS_FILES = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        args = dict(self._task.args)
        missing = [k for k in ("edition", "division", "settings", "launcher", "org", "system", "paths")
                   if args.get(k) in (None, "")]
        if missing:
            result.update(failed=True, msg="vectordb_plan needs %s" % ", ".join(missing))
            return result
        if not isinstance(args["settings"], dict) or not isinstance(args["paths"], dict):
            result.update(failed=True, msg="vectordb_plan: settings and paths must be mappings")
            return result
        launcher_vars = (task_vars or {}).get("hostvars", {}).get(args["launcher"], {})
        env = launcher_vars.get("python_env_result") or {}
        header = env.get("header") or {}
        req = dict(args["settings"])
        req.update(
            edition=str(args["edition"]), division=str(args["division"]), runs=int(args.get("runs") or 0),
            org=args["org"], system=args["system"], paths=dict(args["paths"]),
            allow_invalid=bool(args.get("allow_invalid")),
            engine={"generation": header.get("engine_generation"), "version": header.get("engine_version"),
                    "source": header.get("engine_source"), "profile": header.get("profile"),
                    "lock_hash": env.get("lock_hash")},
        )
        plan = _vectordb.plan_vectordb(req)
        result.update(changed=False, plan=plan)
        if plan["errors"]:
            lines = ["The vector database plan has %d problem(s); nothing was started:" % len(plan["errors"])]
            for n, err in enumerate(plan["errors"], 1):
                lines.append("%d. [%s] %s\n   fix: %s" % (n, err["variable"], err["message"], err["fix"]))
            result.update(failed=True, msg="\n".join(lines))
        return result
