"""Training workload definitions and the override rules of each MLPerf Storage edition.

Controller-side, plain Python over the YAML files in ``data/``: which (model, accelerator)
pairs exist per edition and division, their DLIO workload configs, and how a dotted
parameter override is classified (CLOSED-allowed, OPEN-only, tool-injected or invalid).
"""
import copy
import difflib
import functools
import os
import re

import yaml

DATA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
WORKLOAD_DIR = os.path.join(DATA_DIR, "workloads")

# Override classes, as reported by classify_overrides().
CLOSED = "closed"
OPEN = "open"
TOOL = "tool"
INVALID = "invalid"


class WorkloadError(ValueError):
    """A workload, edition or override request that cannot be satisfied; the message says how to fix it."""


@functools.lru_cache(maxsize=None)
def _load_yaml_file(path):
    with open(path, "r", encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def load_data(name):
    """Return a deep copy of ``data/<name>`` (callers may mutate it freely)."""
    return copy.deepcopy(_load_yaml_file(os.path.join(DATA_DIR, name)))


def _models_table():
    return _load_yaml_file(os.path.join(DATA_DIR, "training_models.yaml"))


def editions():
    """Edition names known to the collection, newest first."""
    return sorted(_models_table()["editions"], key=lambda e: [int(p) for p in e.split(".")], reverse=True)


def edition_rules(edition):
    """The training rules block of one edition (pairs, au_threshold, runs, overrides ...)."""
    table = _models_table()["editions"]
    key = str(edition)
    if key not in table:
        raise WorkloadError(
            "mlperf_edition: unknown edition %r; known editions are %s. "
            "Set mlperf_edition to one of them." % (edition, ", ".join(editions()))
        )
    return copy.deepcopy(table[key])


def steps_per_epoch():
    return _models_table()["steps_per_epoch"]


def memory_multiplier():
    return _models_table()["memory_multiplier"]


def _all_models():
    models = set()
    for rules in _models_table()["editions"].values():
        models.update(rules["pairs"])
    return sorted(models)


def _all_accelerators():
    accels = set()
    for rules in _models_table()["editions"].values():
        for by_accel in rules["pairs"].values():
            accels.update(by_accel)
    return sorted(accels)


def workload_name(model, accelerator):
    """Hydra workload name of a training run: ``<model>_<accelerator>`` ('-' in a model becomes '_')."""
    return "%s_%s" % (str(model).replace("-", "_"), accelerator)


def datagen_workload_name(model):
    """Hydra workload name of a data generation run: ``<model>_datagen``."""
    return "%s_datagen" % str(model).replace("-", "_")


def _pair_errors(model, accelerator, edition):
    """Errors about the pair itself (unknown names, pair absent from the edition)."""
    table = _models_table()
    if str(edition) not in table["editions"]:
        return [
            "mlperf_edition: unknown edition %r; known editions are %s. "
            "Set mlperf_edition to one of them." % (edition, ", ".join(editions()))
        ]
    pairs = table["editions"][str(edition)]["pairs"]
    errors = []
    if model not in _all_models():
        errors.append(
            "mlperf_model: unknown training model %r; allowed values are %s. "
            "Set mlperf_model to one of them." % (model, ", ".join(_all_models()))
        )
    if accelerator not in _all_accelerators():
        errors.append(
            "mlperf_accelerator: unknown accelerator %r; allowed values are %s. "
            "Set mlperf_accelerator to one of them." % (accelerator, ", ".join(_all_accelerators()))
        )
    if errors:
        return errors
    if model not in pairs:
        return [
            "mlperf_model: %r is not a training model of edition %s; that edition has %s. "
            "Choose one of those, or set mlperf_edition to an edition that has %s."
            % (model, edition, ", ".join(sorted(pairs)), model)
        ]
    if accelerator not in pairs[model]:
        return [
            "mlperf_accelerator: %r is not available for mlperf_model %r in edition %s; "
            "allowed accelerators for it are %s. Set mlperf_accelerator to one of them."
            % (accelerator, model, edition, ", ".join(sorted(pairs[model])))
        ]
    return []


def check_pair(model, accelerator, edition="3.0", division="closed"):
    """Return a list of error strings (empty when the pair may run in that edition and division).

    Each message names the variable to change (mlperf_model, mlperf_accelerator, mlperf_division
    or mlperf_edition), the value given, the allowed values and the fix.
    """
    table = _models_table()
    errors = []
    if division not in table["divisions"]:
        errors.append(
            "mlperf_division: unknown division %r; allowed values are %s. "
            "Set mlperf_division to one of them." % (division, ", ".join(table["divisions"]))
        )
    pair_errors = _pair_errors(model, accelerator, edition)
    if pair_errors or errors:
        return errors + pair_errors
    allowed = table["editions"][str(edition)]["pairs"][model][accelerator]
    if division not in allowed:
        errors.append(
            "mlperf_division: %s + %s may not run in division %r of edition %s; allowed divisions "
            "for this pair are %s. Set mlperf_division to one of them, or choose a pair that %s allows."
            % (model, accelerator, division, edition, ", ".join(allowed), division)
        )
    return errors


def _read_workload(filename, what):
    path = os.path.join(WORKLOAD_DIR, filename)
    if not os.path.isfile(path):
        raise WorkloadError("no workload definition for %s (expected %s)" % (what, path))
    return copy.deepcopy(_load_yaml_file(path))


def load_workload(model, accelerator, edition="3.0"):
    """The DLIO workload config (dict, MLPerf key names) of a training run.

    Raises WorkloadError when the pair does not exist in the edition. The division is not checked
    here: use check_pair() for that.
    """
    problems = _pair_errors(model, accelerator, edition)
    if problems:
        raise WorkloadError("; ".join(problems))
    return _read_workload(workload_name(model, accelerator) + ".yaml", "%s on %s" % (model, accelerator))


def load_datagen_workload(model, edition="3.0"):
    """The DLIO workload config of the data generation run for a model."""
    pairs = edition_rules(edition)["pairs"]
    if model not in pairs:
        raise WorkloadError(
            "mlperf_model: %r is not a training model of edition %s; that edition has %s. "
            "Set mlperf_model to one of them." % (model, edition, ", ".join(sorted(pairs)))
        )
    return _read_workload(datagen_workload_name(model) + ".yaml", "data generation of %s" % model)


def flatten(config, prefix=""):
    """{"a": {"b": 1}} -> {"a.b": 1}; empty sections stay as values so nothing is lost."""
    flat = {}
    for key, value in config.items():
        dotted = prefix + str(key)
        if isinstance(value, dict) and value:
            flat.update(flatten(value, dotted + "."))
        else:
            flat[dotted] = value
    return flat


def _flat_keys(config):
    return list(flatten(config))


def _known_keys(rules):
    """Every dotted key the classifier can name in a "did you mean" hint."""
    known = set(rules["overrides"]["closed"]) | set(rules["overrides"]["open"]) | set(rules["overrides"]["tool"])
    for name in os.listdir(WORKLOAD_DIR):
        if name.endswith(".yaml"):
            known.update(_flat_keys(_load_yaml_file(os.path.join(WORKLOAD_DIR, name))))
    return sorted(known)


def classify_overrides(params, edition="3.0", division="closed"):
    """Classify each override key under the rules of ``edition``.

    Returns one entry per key, in key order: ``{key, class, message, allowed}`` where class is
    closed (allowed in CLOSED), open (makes the run OPEN), tool (set by the launcher, not a user
    override) or invalid (makes the run INVALID). ``allowed`` says whether the key may be used in
    ``division``: open keys are not allowed in closed, invalid keys nowhere.
    """
    if not isinstance(params, dict):
        raise WorkloadError(
            "mlperf_params must be a mapping of dotted workload keys to values "
            "(e.g. {'reader.read_threads': 8}); got %s" % type(params).__name__
        )
    rules = edition_rules(edition)
    overrides = rules["overrides"]
    closed, open_only, tool = set(overrides["closed"]), set(overrides["open"]), set(overrides["tool"])
    prefixes = tuple(overrides.get("tool_prefixes", []))
    known = None
    result = []
    for key in sorted(params, key=str):
        key_text = str(key)
        if key_text in tool or key_text.startswith(prefixes):
            klass = TOOL
            message = "%s is set by the launcher, not counted as a user override" % key_text
            allowed = True
        elif key_text in closed:
            klass = CLOSED
            message = "%s may be overridden in CLOSED" % key_text
            allowed = True
        elif key_text in open_only:
            klass = OPEN
            allowed = division != "closed"
            message = "%s may only be overridden in OPEN; it makes the run OPEN" % key_text
            if not allowed:
                message += "; it is not allowed with mlperf_division=closed (set mlperf_division: open or drop it)"
        else:
            klass = INVALID
            allowed = False
            if known is None:
                known = _known_keys(rules)
            message = "%s is not an allowed override in edition %s; it makes the run INVALID" % (key_text, edition)
            close = difflib.get_close_matches(key_text, known, n=1, cutoff=0.75)
            if close:
                message += " (did you mean %s?)" % close[0]
            else:
                message += " (allowed in CLOSED: %s; OPEN only: %s)" % (
                    ", ".join(sorted(closed)), ", ".join(sorted(open_only)))
        result.append({"key": key_text, "class": klass, "message": message, "allowed": allowed})
    return result


_INT_RE = re.compile(r"^[+-]?\d+$")
_FLOAT_RE = re.compile(r"^[+-]?(\d+\.\d*|\.\d+|\d+(\.\d*)?[eE][+-]?\d+|\d*\.\d+[eE][+-]?\d+)$")


def typed_value(value):
    """Type a string value the way a hydra command-line override is typed.

    int, float, true/false (any case), null, [list] and {map} are recognised; everything else
    (including YAML 1.1 words such as ``off`` or ``yes``) stays a string. Non-strings pass through.
    """
    if not isinstance(value, str):
        return value
    text = value.strip()
    if _INT_RE.match(text):
        return int(text)
    if _FLOAT_RE.match(text):
        return float(text)
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered == "null":
        return None
    if (text.startswith("[") and text.endswith("]")) or (text.startswith("{") and text.endswith("}")):
        try:
            return yaml.safe_load(text)
        except yaml.YAMLError:
            return value
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return value


def split_key(key):
    """Split a dotted override key, rejecting empty segments."""
    parts = str(key).split(".")
    if not key or any(not part or part != part.strip() for part in parts):
        raise WorkloadError(
            "override key %r is not a dotted workload key; expected segments separated by single dots, "
            "e.g. 'dataset.num_files_train'" % (key,)
        )
    return parts


def merge_overrides(config, params):
    """Return a copy of ``config`` with dotted ``params`` folded in (string values typed like hydra)."""
    merged = copy.deepcopy(config)
    for key in sorted(params, key=str):
        parts = split_key(key)
        node = merged
        for depth, part in enumerate(parts[:-1]):
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            elif not isinstance(child, dict):
                raise WorkloadError(
                    "override %s: %s is a plain value (%r) in the workload, not a section; "
                    "override %s itself or remove the override"
                    % (key, ".".join(parts[: depth + 1]), child, ".".join(parts[: depth + 1]))
                )
            node = child
        node[parts[-1]] = typed_value(params[key])
    return merged
