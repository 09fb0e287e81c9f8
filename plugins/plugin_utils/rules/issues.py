# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Issues and verdicts: the vocabulary every check speaks."""
from __future__ import annotations

from dataclasses import dataclass, field

CLOSED = "CLOSED"
OPEN = "OPEN"
INVALID = "INVALID"
VERDICTS = (CLOSED, OPEN, INVALID)
_RANK = {CLOSED: 0, OPEN: 1, INVALID: 2}

ERROR = "error"
WARNING = "warning"
INFO = "info"
SEVERITIES = (ERROR, WARNING, INFO)


@dataclass
class Issue:
    """One finding. Not necessarily a problem: CLOSED issues record what was checked."""

    validation: str
    message: str
    parameter: str | None = None
    expected: object = None
    actual: object = None
    severity: str = ERROR
    rule_id: str | None = None
    check: str | None = None
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        self.validation = str(self.validation).upper()
        if self.validation not in VERDICTS:
            raise ValueError("unknown validation %r (expected one of %s)" % (self.validation, ", ".join(VERDICTS)))
        if self.severity not in SEVERITIES:
            raise ValueError("unknown severity %r (expected one of %s)" % (self.severity, ", ".join(SEVERITIES)))

    def to_dict(self) -> dict:
        return {
            "validation": self.validation,
            "severity": self.severity,
            "message": self.message,
            "parameter": self.parameter,
            "expected": _jsonable(self.expected),
            "actual": _jsonable(self.actual),
            "rule_id": self.rule_id,
            "check": self.check,
        }

    def __str__(self) -> str:
        parts = []
        if self.parameter is not None:
            parts.append("Parameter: %s" % self.parameter)
        if self.expected is not None:
            parts.append("Expected: %s" % (self.expected,))
        if self.actual is not None:
            parts.append("Actual: %s" % (self.actual,))
        tail = " (%s)" % ", ".join(parts) if parts else ""
        rid = "[%s] " % self.rule_id if self.rule_id else ""
        return "[%s] %s%s%s" % (self.validation, rid, self.message, tail)

    @property
    def is_problem(self) -> bool:
        """True for anything an operator should read: non-CLOSED or not merely informational."""
        return self.validation != CLOSED or self.severity == WARNING


def _jsonable(value):
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, (list, tuple, set)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return str(value)


def worst(verdicts) -> str:
    """The worst verdict of an iterable (CLOSED when empty)."""
    result = CLOSED
    for v in verdicts:
        if _RANK[v] > _RANK[result]:
            result = v
    return result


def verdict_of(issues) -> str:
    """INVALID if any issue is INVALID, else OPEN if any is OPEN, else CLOSED."""
    return worst(i.validation for i in issues)


def sort_for_display(issues):
    """Problems first (INVALID, OPEN, warnings), then the positive records."""
    def key(i):
        sev = {ERROR: 0, WARNING: 1, INFO: 2}[i.severity]
        return (-_RANK[i.validation], 0 if i.is_problem else 1, sev)
    return sorted(issues, key=key)
