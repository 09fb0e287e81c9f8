# -*- coding: utf-8 -*-
# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The base of the actions whose work is done on the controller (verify, report, results_lock, datasize, plans).

They need no connection to the host and transfer no files; their arguments are validated against the
action's ARGUMENT_SPEC (the module stub of the same name documents it) before act() runs.
"""
from __future__ import annotations

from ansible.plugins.action import ActionBase


def plain(value):
    """Task variables as plain JSON values (tagged or unsafe strings become str)."""
    if isinstance(value, dict):
        return {"%s" % key: plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    if isinstance(value, (bool, int, float)) or value is None:
        return value
    return "%s" % value


class ControllerAction(ActionBase):
    """Subclasses set ARGUMENT_SPEC and act(result, args, task_vars), which returns the task result."""

    TRANSFERS_FILES = False
    _requires_connection = False
    ARGUMENT_SPEC = {}

    def act(self, result, args, task_vars):  # pragma: no cover - every subclass does its own work
        raise NotImplementedError

    def task_var(self, task_vars, name):
        """A task variable rendered and made plain; None when unset, the raw text when it does not render."""
        value = task_vars.get(name)
        if value is None:
            return None
        try:
            value = self._templar.template(value)
        except Exception:  # pylint: disable=broad-except - a value that does not render is kept as written
            pass
        return plain(value)

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        _validation, args = self.validate_argument_spec(argument_spec=self.ARGUMENT_SPEC)
        return self.act(result, args, task_vars or {})
