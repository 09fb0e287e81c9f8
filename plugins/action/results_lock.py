# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller-side lock on a results directory, held by the running ansible-playbook process (see
plugin_utils/_results_lock.py for the file protocol and the liveness rules)."""
from __future__ import annotations

import os

from ansible_collections.mlperf.storage.plugins.plugin_utils._controller_action import ControllerAction
from ansible_collections.mlperf.storage.plugins.plugin_utils import _results_lock

ARGUMENT_SPEC = {
    "path": {"type": "path", "required": True},
    "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
    "wait": {"type": "int", "default": 0},
    "purpose": {"type": "str", "default": ""},
    "lease": {"type": "int", "default": _results_lock.DEFAULT_LEASE},
    "break_token": {"type": "str"},
    "token": {"type": "str"},
}


class ActionModule(ControllerAction):
    ARGUMENT_SPEC = ARGUMENT_SPEC

    def act(self, result, args, task_vars):
        try:
            return self._run(result, args, task_vars)
        except Exception as exc:  # never a traceback: the message says what failed
            result.update(failed=True, msg="results lock on %s: %s: %s" % (args.get("path"), type(exc).__name__, exc))
            return result

    def _run(self, result, args, task_vars):
        directory = os.path.abspath(os.path.expanduser(args["path"]))
        # task workers are forked from the ansible-playbook process: its pid lives as long as the playbook
        owner = os.getppid()
        lock_file = _results_lock.lock_path(directory)
        result.update(changed=False, path=lock_file, pid=owner)

        if args["state"] == "absent":
            if self._task.check_mode:
                result.update(released=False, msg="check mode: the lock is left as it is")
                return result
            released, message, holder = _results_lock.release(directory, token=args["token"] or None,
                                                              pid=None if args["token"] else owner)
            result.update(changed=released, released=released, msg=message)
            if holder and not released:
                result["holder"] = holder
            return result

        for name in ("wait", "lease"):
            if args[name] < 0:
                result.update(failed=True, msg="%s is %s; give seconds (0 = %s)" % (
                    name, args[name], "refuse at once" if name == "wait" else "no expiry"))
                return result
        break_token = args["break_token"]
        if break_token is None:
            break_token = self.task_var(task_vars, _results_lock.BREAK_VARIABLE)
        break_token = ("%s" % break_token).strip() if break_token not in (None, "") else None
        if self._task.check_mode:
            result["msg"] = "check mode: the lock is not taken"
            return result
        try:
            os.makedirs(directory, exist_ok=True)
        except OSError as exc:
            result.update(failed=True, msg="cannot create the results directory %s for its lock: %s" % (directory, exc))
            return result

        extra = {name: self.task_var(task_vars, name) for name in (
            "awx_job_id", "tower_job_id", "awx_job_template_name", "tower_job_template_name", "awx_user_name",
            "tower_user_name")}
        awx = _results_lock.awx_identity(os.environ, extra)
        try:
            record, replaced = _results_lock.acquire(directory, owner, purpose=args["purpose"], wait=args["wait"],
                                                     lease=args["lease"], break_token=break_token, awx=awx)
        except _results_lock.LockHeld as exc:
            result.update(failed=True, msg=str(exc), holder=exc.holder)
            return result
        except _results_lock.LockError as exc:
            result.update(failed=True, msg=str(exc))
            return result
        result.update(changed=True, holder=record, token=record["token"], lease_until=record.get("lease_until"))
        if replaced:
            result["stale_holder"] = replaced
            who = ("an unreadable lock file" if "unreadable" in replaced else
                   "pid %s on %s (since %s)" % (replaced.get("pid"), replaced.get("host"), replaced.get("since")))
            self._display.warning("results lock %s was held by %s: %s; taken over"
                                  % (lock_file, who, replaced.get("stale_reason")))
        elif break_token:
            result["msg"] = ("%s=%s was given, but no lock with that token was in the way; nothing was broken"
                             % (_results_lock.BREAK_VARIABLE, break_token))
        return result
