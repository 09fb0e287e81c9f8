"""Rules editions: the data (models, accelerators, tables, thresholds) each round judges by."""
from __future__ import annotations

import functools
import os
import re

import yaml

from .util import get_path

EDITIONS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "editions")
DEFAULT_EDITION = "3.0"


class EditionError(ValueError):
    """An edition name that has no data file, or a data file that cannot be read."""


def available_editions() -> list:
    names = []
    for fn in os.listdir(EDITIONS_DIR):
        if fn.endswith(".yaml"):
            names.append(fn[: -len(".yaml")])
    return sorted(names)


def normalize_edition(name) -> str:
    """Accept "3.0", "v3.0", "3", 3.0 and return the canonical "3.0"."""
    if name is None:
        return DEFAULT_EDITION
    text = str(name).strip()
    if text[:1] in ("v", "V"):
        text = text[1:]
    if text and "." not in text and text.isdigit():
        text = text + ".0"
    return text


class Edition:
    """Read-only view of one edition's data with the lookups the checks need."""

    def __init__(self, data: dict):
        self.data = data
        self.name = str(data["edition"])
        self.relaxed_rules = dict(data.get("relaxed_rules") or {})

    def __repr__(self):
        return "Edition(%s)" % self.name

    def section(self, benchmark: str) -> dict:
        return self.data.get(benchmark) or {}

    def has_benchmark(self, benchmark: str) -> bool:
        return benchmark in (self.data.get("benchmarks") or [])

    def by_division(self, benchmark: str, key: str, division: str) -> list:
        """A per-division list (models, accelerators, index types ...); unknown division -> closed."""
        table = self.section(benchmark).get(key) or {}
        if division in table:
            return list(table[division] or [])
        return list(table.get("closed") or [])

    def all_of(self, benchmark: str, key: str) -> list:
        table = self.section(benchmark).get(key) or {}
        out = []
        for values in table.values():
            for v in values or []:
                if v not in out:
                    out.append(v)
        return out

    def training_workload(self, model, accelerator):
        if not model or not accelerator:
            return None
        key = "%s_%s" % (str(model).replace("-", "_"), accelerator)
        return (self.section("training").get("workloads") or {}).get(key)

    def checkpoint_model(self, model):
        return (self.section("checkpointing").get("models") or {}).get(model)

    # -- which requirements exist in this edition ---------------------------------------------
    def requires(self, feature) -> bool:
        """True when the edition has the requirement ``feature`` (``requirements:`` in its data).

        A requirement the data does not name exists (the newest rules are the default); an edition
        lists ``required: false`` for what its round did not have yet."""
        spec = (self.data.get("requirements") or {}).get(feature)
        if isinstance(spec, dict):
            return bool(spec.get("required", True))
        return True if spec is None else bool(spec)

    def requirement_note(self, feature) -> str:
        spec = (self.data.get("requirements") or {}).get(feature)
        return str(spec.get("why") or "") if isinstance(spec, dict) else ""

    def not_required(self, ctx, feature, parameter=None):
        """None when the edition has ``feature``; else the CLOSED info finding that says it does not."""
        if self.requires(feature):
            return None
        note = self.requirement_note(feature)
        return ctx.ok("not a requirement of rules edition %s%s" % (self.name, ": " + note if note else ""),
                      parameter=parameter or feature)

    def engine_generation_incomplete(self, generation) -> bool:
        if not generation:
            return False
        eng = self.data.get("engines") or {}
        if generation in (eng.get("dlio_incomplete_generations") or []):
            return True
        prefix = eng.get("dlio_incomplete_prefix")
        return bool(prefix) and str(generation).startswith(prefix)


def load_edition(name=None) -> Edition:
    """Load an edition by name ("3.0", "v2.0", 3 ...); one shared object per edition.

    Raises EditionError naming the known editions.
    """
    try:
        return _load_canonical(normalize_edition(name))
    except EditionError as exc:
        raise EditionError(str(exc).replace("%r" % normalize_edition(name), "%r" % (name,), 1))


@functools.lru_cache(maxsize=None)
def _load_canonical(canonical) -> Edition:
    name = canonical
    path = os.path.join(EDITIONS_DIR, canonical + ".yaml")
    if not os.path.isfile(path):
        raise EditionError(
            "unknown rules edition %r: no data file %s; known editions: %s"
            % (name, os.path.basename(path), ", ".join(available_editions())))
    try:
        with open(path, encoding="utf-8") as fh:
            data = yaml.safe_load(fh)
    except (OSError, yaml.YAMLError) as exc:
        raise EditionError("cannot read edition data %s: %s" % (path, exc))
    if not isinstance(data, dict) or str(data.get("edition")) != canonical:
        raise EditionError("edition data %s must be a mapping with edition: %r" % (path, canonical))
    return Edition(data)


# ----------------------------------------------------------------------------------------------
# recognising a run's edition from what the run recorded
# ----------------------------------------------------------------------------------------------
# Where runs record the edition they were made under, and the version of the tool that made them
# (dotted paths into *_metadata.json and provenance.json).
RECORDED_EDITION_KEYS = ("rules_edition", "tool.rules_edition")
RECORDED_TOOL_VERSION_KEYS = ("tool.version", "mlpstorage_version", "tool_version")
_ABSENT = object()


def _lookup(data, dotted):
    return get_path(data, dotted, _ABSENT)


@functools.lru_cache(maxsize=None)
def _detection_table() -> tuple:
    """(edition name, tool version prefixes, metadata marker keys) for every edition with a detect block."""
    table = []
    for name in available_editions():
        try:
            ed = _load_canonical(name)
        except EditionError:
            continue
        det = ed.data.get("detect") or {}
        table.append((ed.name, tuple(str(v) for v in det.get("tool_versions") or ()),
                      tuple(str(k) for k in det.get("metadata_keys") or ())))
    return tuple(table)


def _major_minor(version):
    m = re.match(r"^[vV]?(\d+)\.(\d+)", str(version).strip())
    return "%d.%d" % (int(m.group(1)), int(m.group(2))) if m else None


def edition_for_tool_version(version):
    """The edition whose data lists the tool's major.minor version under detect.tool_versions, else None."""
    mm = _major_minor(version)
    if not mm:
        return None
    for name, versions, _ in _detection_table():
        if mm in versions:
            return name
    return None


def edition_for_metadata_format(meta):
    """(edition, matched marker keys, tied editions) from the keys a *_metadata.json holds.

    Each edition's data lists (detect.metadata_keys) the keys only its tool writes; the edition
    with the most of them present wins. A tie names the tied editions and picks none."""
    if not isinstance(meta, dict):
        return None, [], []
    scored = []
    for name, _, keys in _detection_table():
        hits = [k for k in keys if _lookup(meta, k) is not _ABSENT]
        if hits:
            scored.append((len(hits), name, hits))
    if not scored:
        return None, [], []
    best = max(s[0] for s in scored)
    top = [s for s in scored if s[0] == best]
    if len(top) > 1:
        return None, [], sorted(s[1] for s in top)
    return top[0][1], top[0][2], []


def detect_run_edition(metadata=None, metadata_file=None, provenance=None, provenance_file="provenance.json"):
    """What a run's own files say about its edition, strongest first: a list of
    (kind, edition name, reason) with kind "recorded" (an edition name the run wrote down),
    "tool_version" (the version of the tool that made it) or "format" (the shape of its metadata).
    Names are not checked against the known editions here (the engine reports unknown ones)."""
    found = []
    sources = [(metadata, metadata_file or "*_metadata.json"), (provenance, provenance_file)]
    for data, where in sources:
        if not isinstance(data, dict):
            continue
        for key in RECORDED_EDITION_KEYS:
            value = _lookup(data, key)
            if value not in (_ABSENT, None, ""):
                found.append(("recorded", normalize_edition(value),
                              "recorded as %s %r in %s" % (key, value, where)))
                break
    for data, where in sources:
        if not isinstance(data, dict):
            continue
        for key in RECORDED_TOOL_VERSION_KEYS:
            value = _lookup(data, key)
            if value in (_ABSENT, None, "") or isinstance(value, (dict, list)):
                continue
            name = edition_for_tool_version(value)
            if name:
                found.append(("tool_version", name, "detected from tool version %s (%s) in %s" % (value, key, where)))
                break
    name, hits, tied = edition_for_metadata_format(metadata)
    if name:
        found.append(("format", name, "detected from the metadata format of %s (keys only the edition %s tool "
                                      "writes: %s)" % (metadata_file or "*_metadata.json", name, ", ".join(hits))))
    elif tied:
        found.append(("format", None, "the metadata format of %s fits editions %s equally"
                                      % (metadata_file or "*_metadata.json", ", ".join(tied))))
    return found
