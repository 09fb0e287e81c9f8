# -*- coding: utf-8 -*-
# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: progress
type: aggregate
short_description: Print a progress line for long benchmark phases
version_added: "0.1.0"
description:
  - While a benchmark engine runs, the collection polls it with M(mlperf.storage.engine_wait) in a retry loop.
    This callback prints the C(progress_line) of each poll (epoch n of N, files written, elapsed time), so a
    long run is never silent, in the terminal and in AWX job output alike.
  - Prints nothing for tasks that carry no C(progress_line).
requirements:
  - enable it with C(callbacks_enabled = mlperf.storage.progress) in ansible.cfg
"""

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "mlperf.storage.progress"
    CALLBACK_NEEDS_ENABLED = True

    def _show(self, result):
        line = (result._result or {}).get("progress_line")
        if line:
            self._display.display("[progress] %s | %s" % (result._host.get_name(), line))

    def v2_runner_retry(self, result):
        self._show(result)

    def v2_runner_on_ok(self, result):
        self._show(result)
