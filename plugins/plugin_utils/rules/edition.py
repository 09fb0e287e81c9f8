# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Rules editions: the data (models, accelerators, tables, thresholds) each round judges by.

One file per edition (``editions/<edition>.yaml``) holds everything the edition decides, for the
planner and the verifier alike; the training pairs' reference values are their DLIO workloads in
``plugin_utils/data/workloads``. ``load_edition`` is the one loader (cached per edition).
"""
from __future__ import annotations

import copy
import functools
import os
import re

import yaml

from .util import get_path

EDITIONS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "editions")
WORKLOAD_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "workloads")
# The edition used when none is given; the only edition name outside the editions data.
DEFAULT_EDITION = "3.0"
_ABSENT = object()


class EditionError(ValueError):
    """An edition name that has no data file, or a data file that cannot be read."""


def available_editions() -> list:
    """Edition names with a data file, oldest first."""
    names = []
    for fn in os.listdir(EDITIONS_DIR):
        if fn.endswith(".yaml"):
            names.append(fn[: -len(".yaml")])
    return sorted(names, key=_version_key)


def _version_key(name):
    return [int(p) if p.isdigit() else p for p in re.split(r"[.]", name)]


def workload_name(model, accelerator):
    """Name of a training pair's DLIO workload: ``<model>_<accelerator>`` ('-' in a model becomes '_')."""
    return "%s_%s" % (str(model).replace("-", "_"), accelerator)


@functools.lru_cache(maxsize=None)
def _workload_file(name):
    path = os.path.join(WORKLOAD_DIR, name + ".yaml")
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def read_workload_file(name):
    """A copy of ``data/workloads/<name>.yaml``, or None when there is no such file."""
    data = _workload_file(name)
    return copy.deepcopy(data) if data is not None else None


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

    @property
    def divisions(self) -> list:
        return list(self.data.get("divisions") or [])

    def _division(self, division):
        """The division whose lists apply: an unknown division (e.g. whatif before it existed) -> closed."""
        return division if division in self.divisions else "closed"

    def by_division(self, benchmark: str, key: str, division: str) -> list:
        """A per-division list (models, accelerators, index types ...); unknown division -> closed."""
        if benchmark == "training" and key in ("models", "accelerators"):
            return self._training_names(key, self._division(division))
        table = self.section(benchmark).get(key) or {}
        if division in table:
            return list(table[division] or [])
        return list(table.get("closed") or [])

    def all_of(self, benchmark: str, key: str) -> list:
        if benchmark == "training" and key in ("models", "accelerators"):
            return self._training_names(key, None)
        table = self.section(benchmark).get(key) or {}
        out = []
        for values in table.values():
            for v in values or []:
                if v not in out:
                    out.append(v)
        return out

    # -- training --------------------------------------------------------------------------------
    def training_pairs(self) -> dict:
        """{model: {accelerator: [divisions the pair may run in]}} (a copy)."""
        return copy.deepcopy(self.section("training").get("pairs") or {})

    def pair_divisions(self, model, accelerator):
        """The divisions a (model, accelerator) pair may run in, or None when the edition lacks the pair."""
        by_accel = (self.section("training").get("pairs") or {}).get(model)
        if not isinstance(by_accel, dict) or accelerator not in by_accel:
            return None
        return list(by_accel[accelerator] or [])

    def _training_names(self, key, division):
        """Models or accelerators of the pairs (in data order); division None -> every pair."""
        out = []
        for model, by_accel in (self.section("training").get("pairs") or {}).items():
            for accel, divisions in (by_accel or {}).items():
                if division is not None and division not in (divisions or []):
                    continue
                name = model if key == "models" else accel
                if name not in out:
                    out.append(name)
        return out

    def training_models(self, division=None) -> list:
        """Models of the edition's pairs; with ``division``, those with a pair allowed there."""
        return self._training_names("models", None if division is None else self._division(division))

    def training_accelerators(self, division=None) -> list:
        return self._training_names("accelerators", None if division is None else self._division(division))

    def training_workload(self, model, accelerator):
        """Reference values of a pair ({framework, data_loader, format, ... au}, named by reference_keys),
        read from its DLIO workload; None when the edition lacks the pair or the workload file is missing."""
        if not model or not accelerator or self.pair_divisions(model, accelerator) is None:
            return None
        workload = _workload_file(workload_name(model, accelerator))
        if not isinstance(workload, dict):
            return None
        out = {}
        for dotted, name in (self.section("training").get("reference_keys") or {}).items():
            value = get_path(workload, dotted, _ABSENT)
            if value is not _ABSENT:
                out[name] = copy.deepcopy(value)
        return out

    def au_threshold(self, model):
        """Minimum accelerator utilisation of a training model, as a fraction; None when not set."""
        return (self.section("training").get("au_thresholds") or {}).get(model)

    def steps_per_epoch(self) -> int:
        return int(self.section("training")["steps_per_epoch"])

    def memory_multiplier(self):
        return self.section("training")["memory_multiplier"]

    def datasize_rounding(self) -> str:
        """How a plan rounds the memory-bound file count of the datasize rule ("ceil" or "floor")."""
        return str(self.section("training")["datasize_rounding"])

    def accepted_datasize_rounding(self) -> str:
        """The rounding of the smallest file count the verifier accepts ("floor" tolerates ceil - 1)."""
        sec = self.section("training")
        return str(sec.get("datasize_accepted_rounding") or sec["datasize_rounding"])

    def planned_training_runs(self) -> dict:
        """{warmup, measured}: the runs a plan makes by default (the edition's result, unless its data says
        otherwise under planned_runs)."""
        sec = self.section("training")
        planned = sec.get("planned_runs")
        if isinstance(planned, dict):
            return {"warmup": int(planned["warmup"]), "measured": int(planned["measured"])}
        warmup = int(sec.get("warmup_runs", 0))
        return {"warmup": warmup, "measured": int(sec["runs_per_result"]) - warmup}

    def override_classes(self) -> dict:
        """{closed, open, tool_injected, tool_prefixes}: lists of dotted keys (prefixes for the last)."""
        ovr = self.section("training").get("overrides") or {}
        return {name: list(ovr.get(name) or []) for name in ("closed", "open", "tool_injected", "tool_prefixes")}

    def classify_override(self, key):
        """'tool', 'closed', 'open' or None (disallowed: makes a run INVALID) for one dotted override key."""
        ovr = self.override_classes()
        text = str(key)
        if text in ovr["tool_injected"] or text.startswith(tuple(ovr["tool_prefixes"])):
            return "tool"
        if text in ovr["closed"]:
            return "closed"
        if text in ovr["open"]:
            return "open"
        return None

    def checkpoint_model(self, model):
        return (self.section("checkpointing").get("models") or {}).get(model)

    # -- KV cache ----------------------------------------------------------------------------------
    def kv_cache_models(self) -> list:
        return list(self.section("kv_cache").get("models") or [])

    def kv_cache_default_model(self):
        """The KV-cache model a run is filed under when none is given; None when the edition has none."""
        return self.section("kv_cache").get("default_model")

    def kv_cache_options(self) -> dict:
        """Table KVCache-1: {"<option>": {name, model, num_users, duration, gpu_mem_gb, cpu_mem_gb,
        max_concurrent_allocs, generation_mode}} with string option keys (a copy)."""
        table = self.section("kv_cache").get("options") or {}
        return {str(k): dict(v or {}) for k, v in table.items()}

    def kv_cache_open_overrides(self) -> tuple:
        """Per-option settings an OPEN run may supersede; every other table value is fixed in both divisions."""
        return tuple(self.section("kv_cache").get("open_overrides") or ())

    def kv_cache_open_features(self) -> dict:
        """Program features an OPEN run may use, in wrapper order: {name: {flag, kind, choices, requires, refused}}
        (a copy)."""
        features = self.section("kv_cache").get("open_features") or {}
        return {str(k): copy.deepcopy(dict(v or {})) for k, v in features.items()}

    def kv_cache_closed_forbidden(self) -> tuple:
        """Run settings that make a CLOSED KV-cache run INVALID (not merely OPEN) when used."""
        return tuple(self.section("kv_cache").get("closed_forbidden") or ())

    def kv_cache_generation_modes(self) -> tuple:
        return tuple(self.section("kv_cache").get("generation_modes") or ())

    def kv_cache_model_footprint(self, model) -> tuple:
        """(bytes per token, typical sequence length) of a KV-cache model, the edition's default for others;
        None when the edition has no footprint data."""
        sec = self.section("kv_cache")
        entry = (sec.get("model_footprint") or {}).get(model) or sec.get("default_footprint")
        if not entry:
            return None
        return int(entry["bytes_per_token"]), int(entry["sequence_length"])

    # -- vector database -----------------------------------------------------------------------------
    def vector_index_defaults(self, index_type) -> dict:
        """Build parameters of the reference configuration for an index type ({} when the edition has none)."""
        table = self.section("vector_database").get("index_defaults") or {}
        return dict(table.get(index_type) or {})

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
