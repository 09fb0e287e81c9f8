"""Rules editions: the data (models, accelerators, tables, thresholds) each round judges by."""
from __future__ import annotations

import functools
import os

import yaml

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
