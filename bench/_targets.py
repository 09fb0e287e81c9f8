# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The orchestration cost targets the benches report against (docs/performance.md).

Each bench prints one line per target it measures: what, the limit, the measured figure and whether it is met,
so a run says by itself which target is missed and by how much.
"""

import collections

Target = collections.namedtuple("Target", "what limit unit")
TARGETS = {t.what: t for t in (
    Target("idle engine time between runs, localhost", 0.7, "s"),
    Target("ratio playbook / by hand", 1.5, "x"),
    Target("fixed overhead per invocation", 6.0, "s"),
    Target("telemetry cost per invocation", 0.5, "s"),
    Target("preflight cost per extra host", 0.5, "s"),
    Target("telemetry cost per run per extra host", 0.2, "s"),
)}


def target_line(what, measured):
    """``target <what> <= <limit><unit>: met|NOT met (measured <value>)``; ``measured`` None: not measured."""
    _, limit, unit = TARGETS[what]
    if measured is None:
        return "target %s <= %g%s: not measured" % (what, limit, unit)
    return "target %s <= %g%s: %s (measured %.2f%s)" % (what, limit, unit, "met" if measured <= limit else "NOT met",
                                                        measured, unit)
