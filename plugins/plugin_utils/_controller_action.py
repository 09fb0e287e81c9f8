# -*- coding: utf-8 -*-
# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The base of the actions whose work is done on the controller (verify, report, results_lock, datasize, plans).

They need no connection to the host and transfer no files; their arguments are validated against the
action's ARGUMENT_SPEC (the module stub of the same name documents it) before act() runs.
"""
from __future__ import annotations

from ansible.plugins.action import ActionBase


class ControllerAction(ActionBase):
    """Subclasses set ARGUMENT_SPEC and act(result, args, task_vars), which returns the task result."""

    TRANSFERS_FILES = False
    _requires_connection = False
    ARGUMENT_SPEC = {}

    def act(self, result, args, task_vars):  # pragma: no cover - every subclass does its own work
        raise NotImplementedError

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        _validation, args = self.validate_argument_spec(argument_spec=self.ARGUMENT_SPEC)
        return self.act(result, args, task_vars or {})
