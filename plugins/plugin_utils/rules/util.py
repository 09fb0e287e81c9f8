# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Small value helpers shared by the loader and the checks."""
from __future__ import annotations

import datetime as _dt
import re

from ansible_collections.mlperf.storage.plugins.module_utils._procfs import to_number as _text_number

RUN_DIR_RE = re.compile(r"^\d{8}_\d{6}$")
RUN_DATETIME_FORMAT = "%Y%m%d_%H%M%S"


def get_path(data, dotted: str, default=None):
    """data["a"]["b"]["c"] for "a.b.c"; default when any level is missing or not a mapping."""
    cur = data
    for part in dotted.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return default
        cur = cur[part]
    return cur


def flatten(data, prefix="") -> dict:
    """{"a": {"b": 1}} -> {"a.b": 1} (lists are leaves)."""
    out = {}
    if not isinstance(data, dict):
        return out
    for key, value in data.items():
        name = "%s.%s" % (prefix, key) if prefix else str(key)
        if isinstance(value, dict) and value:
            out.update(flatten(value, name))
        else:
            out[name] = value
    return out


def to_number(value):
    """Numbers given as overrides arrive as strings ("14000"); None when not a number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str):
        return _text_number(value.strip())
    return None


def to_int(value):
    num = to_number(value)
    if num is None:
        return None
    if isinstance(num, float):
        if num != int(num):
            return None
        return int(num)
    return num


def to_bool(value):
    """True/False for bools and their usual string spellings; None otherwise."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return bool(value)
    if isinstance(value, str):
        low = value.strip().lower()
        if low in ("true", "yes", "on", "1"):
            return True
        if low in ("false", "no", "off", "0", ""):
            return False
    return None


def same_value(actual, expected) -> bool:
    """Compare a recorded parameter with a reference value, tolerating string-typed numbers/bools."""
    if isinstance(expected, bool):
        return to_bool(actual) is expected
    if isinstance(expected, (int, float)):
        num = to_number(actual)
        if num is None:
            return False
        return abs(float(num) - float(expected)) <= 1e-9 * max(1.0, abs(float(expected)))
    if isinstance(expected, str) and isinstance(actual, str):
        return actual.strip().lower() == expected.strip().lower()
    return actual == expected


def parse_time(value):
    """ISO timestamps ("2026-07-12T12:07:24.823639", with or without Z) -> naive datetime."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1]
    try:
        parsed = _dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(_dt.timezone.utc).replace(tzinfo=None)
    return parsed


def parse_run_datetime(value):
    if not isinstance(value, str):
        return None
    try:
        return _dt.datetime.strptime(value.strip(), RUN_DATETIME_FORMAT)
    except ValueError:
        return None


def mean(values):
    vals = [float(v) for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    if not vals:
        return None
    return sum(vals) / len(vals)
