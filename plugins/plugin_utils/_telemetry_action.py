# -*- coding: utf-8 -*-
# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The base of the two actions that build telemetry trees on the controller (telemetry_collect for one run,
telemetry_collect_set for the runs of a set): skipped in check mode, a telemetry or filesystem error becomes a
failed task that says what could not be written, each warning is shown once."""
from __future__ import annotations

from ansible_collections.mlperf.storage.plugins.plugin_utils._controller_action import ControllerAction
from ansible_collections.mlperf.storage.plugins.plugin_utils._telemetry import TelemetryError

# Options both actions take (doc fragment mlperf.storage.telemetry).
COMMON_OPTIONS = dict(
    benchmark=dict(type="str", required=True),
    host_results=dict(type="list", elements="dict", required=True),
    hosts_requested=dict(type="list", elements="str", default=[]),
    interval=dict(type="float"),
)


class TelemetryCollectAction(ControllerAction):
    """Subclasses set NAME, ARGUMENT_SPEC, target(args) (what is written, for the error message) and
    collect(result, args), which returns the summaries it built."""

    NAME = ""

    def target(self, args):  # pragma: no cover - every subclass names what it writes
        raise NotImplementedError

    def collect(self, result, args):  # pragma: no cover - every subclass builds its trees
        raise NotImplementedError

    def act(self, result, args, task_vars):
        if self._task.check_mode:
            result.update(skipped=True, msg="%s writes the results tree; skipped in check mode" % self.NAME)
            return result
        try:
            summaries = self.collect(result, args)
        except TelemetryError as exc:
            result.update(failed=True, msg="%s: %s" % (self.NAME, exc))
            return result
        except (IOError, OSError) as exc:
            result.update(failed=True, msg="%s: cannot write %s: %s; check that it is writable on the controller"
                                           % (self.NAME, self.target(args), exc))
            return result
        shown = set()
        for summary in summaries:
            for warning in summary["warnings"]:
                if warning not in shown:
                    shown.add(warning)
                    self._display.warning("telemetry: %s" % warning)
        result["changed"] = True
        return result
