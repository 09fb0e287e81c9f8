# -*- coding: utf-8 -*-
# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Why a run phase is incomplete, and the message its final task fails with.

Plain Python. The run_phase role passes its registered task results as they are (a task that did not run, or a
fact never set, arrives as None), so every decision about a run's outcome is made here.
"""
from __future__ import annotations

ENOSPC = "No space left on device"


def _result(value):
    return value if isinstance(value, dict) else {}


def incomplete_reasons(final, benchmark, command, failure=None, lost_hosts=None, telemetry_error=None,
                       telemetry_copy=None):
    """Reasons the run is incomplete, in the order they are reported; empty when it completed.

    ``final`` is the result of reading the engine's final status (M(mlperf.storage.engine_wait)): ``finished``
    and ``status`` (``rc``, ``ended_by``, ``error``). ``failure`` is why the engine block failed, ``lost_hosts``
    the clients that could not be reached afterwards, ``telemetry_error`` why collecting telemetry failed and
    ``telemetry_copy`` the looped copy of the telemetry into the launcher's run directory.
    """
    final = _result(final)
    status = _result(final.get("status"))
    reasons = []
    if failure is not None:
        reasons.append(str(failure))
    # an engine that never wrote its status has no exit code to report; that is the next reason
    if status.get("rc", 0) != 0:
        error = (": %s" % status["error"]) if "error" in status else ""
        reasons.append("engine ended by %s with exit code %s%s" % (status.get("ended_by"), status["rc"], error))
    if not final.get("finished", False):
        reasons.append("engine status missing: it did not end within the wait (see %s_%s.stderr.log)"
                       % (benchmark, command))
    if lost_hosts:
        reasons.append("clients unreachable: " + ", ".join(str(host) for host in lost_hosts))
    if telemetry_error is not None:
        reasons.append("collecting telemetry failed: %s" % (telemetry_error,))
    copy = _result(telemetry_copy)
    if copy.get("failed", False):
        failed = [_result(item) for item in copy.get("results") or [] if _result(item).get("failed")]
        messages = [str(item["msg"]) for item in failed if "msg" in item]
        # a loop that failed as a whole has no item results, only its own message
        if not messages and "msg" in copy:
            messages = [str(copy["msg"])]
        reasons.append("copying telemetry into the run directory failed: " + "; ".join(messages))
    return reasons


def failure_message(problems, label, run_dir, launcher, benchmark, command, results_dir, controller_results_dir,
                    metadata=None, checksums=None):
    """The message the phase fails with: its problems, a full results filesystem when some message says so, the
    metadata or checksum writes that failed, and where the kept run directory is.

    ``metadata`` and ``checksums`` are the results of the tasks that wrote the run metadata and sealed the run
    directory (each may have failed, with its ``msg``).
    """
    problems = [str(problem) for problem in problems or []]
    writes = [_result(metadata).get("msg", ""), _result(checksums).get("msg", "")]
    full = ""
    if any(ENOSPC in str(text) for text in problems + writes):
        full = ("The results filesystem is full (%s on %s or %s on the controller): free space there and run "
                "again. " % (results_dir, launcher, controller_results_dir))
    writing = ""
    if _result(metadata).get("failed", False) or _result(checksums).get("failed", False):
        writing = ("Writing its results failed too: %s (is the results filesystem full?). "
                   % "; ".join(str(text) for text in writes if text))
    # the optional parts keep a line each, as the message has always been laid out
    return ("%s failed: %s. %s\n%s\nThe run directory %s on %s is kept, marked incomplete in its metadata; see "
            "%s_%s.stderr.log there." % (label, "; ".join(problems), full, writing, run_dir, launcher, benchmark,
                                         command))
