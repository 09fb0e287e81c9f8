# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller-side lock on a results directory, held by the running ansible-playbook process."""
from __future__ import annotations

import os

from ansible.plugins.action import ActionBase

from ansible_collections.mlperf.storage.plugins.plugin_utils import _results_lock

ARGUMENT_SPEC = {
    "path": {"type": "path", "required": True},
    "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
    "wait": {"type": "int", "default": 0},
    "purpose": {"type": "str", "default": ""},
}


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        _validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        directory = os.path.abspath(os.path.expanduser(args["path"]))
        # task workers are forked from the ansible-playbook process: its pid lives as long as the playbook
        owner = os.getppid()
        lock_file = os.path.join(directory, _results_lock.LOCK_NAME)
        result.update(changed=False, path=lock_file, pid=owner)
        if args["state"] == "absent":
            result["changed"] = _results_lock.release(directory, owner)
            return result
        if args["wait"] < 0:
            result.update(failed=True, msg="wait is %s; give the seconds to wait for another playbook (0 = refuse "
                                           "at once)" % args["wait"])
            return result
        if self._task.check_mode:
            return result
        try:
            os.makedirs(directory, exist_ok=True)
        except OSError as exc:
            result.update(failed=True, msg="cannot create the results directory %s for its lock: %s" % (directory, exc))
            return result
        try:
            record, replaced = _results_lock.acquire(directory, owner, purpose=args["purpose"], wait=args["wait"])
        except _results_lock.LockHeld as exc:
            result.update(failed=True, msg=str(exc), holder=exc.holder)
            return result
        except OSError as exc:
            result.update(failed=True, msg="cannot write the lock %s: %s" % (lock_file, exc))
            return result
        result.update(changed=True, holder=record)
        if replaced:
            result["stale_holder"] = replaced
            self._display.warning("results lock %s was left by pid %s on %s (since %s), which is gone; taken over"
                                  % (lock_file, replaced.get("pid"), replaced.get("host"), replaced.get("since")))
        return result
