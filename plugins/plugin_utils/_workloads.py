# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Training workload definitions and the override rules of each MLPerf Storage edition.

Controller-side, plain Python. What an edition decides (which (model, accelerator) pairs exist per
division, run counts, override classes, datasize constants) is read from the rules editions
(``rules/editions/<edition>.yaml`` through ``rules.edition.load_edition``), the same data the
verifier judges by; the DLIO workload configs are the YAML files in ``data/workloads``.
"""
import copy
import difflib
import functools
import os
import re

import yaml

from ansible_collections.mlperf.storage.plugins.plugin_utils.rules.edition import (
    DEFAULT_EDITION, EditionError, available_editions, load_edition)
from ansible_collections.mlperf.storage.plugins.plugin_utils.rules.edition import (
    workload_name as _edition_workload_name)

DATA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
WORKLOAD_DIR = os.path.join(DATA_DIR, "workloads")

# Override classes, as reported by classify_overrides().
CLOSED = "closed"
OPEN = "open"
TOOL = "tool"
INVALID = "invalid"


class WorkloadError(ValueError):
    """A workload, edition or override request that cannot be satisfied; the message says how to fix it.

    ``problems`` holds the structured form ([{variable, message, fix}]) when the error is about inputs."""

    def __init__(self, message, problems=None):
        super().__init__(message)
        self.problems = list(problems or [])


@functools.lru_cache(maxsize=None)
def _load_yaml_file(path):
    with open(path, "r", encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def load_data(name):
    """Return a deep copy of ``data/<name>`` (callers may mutate it freely)."""
    return copy.deepcopy(_load_yaml_file(os.path.join(DATA_DIR, name)))


def _problem(variable, message, fix):
    return {"variable": variable, "message": message, "fix": fix}


def problem_text(problem):
    """One problem as a sentence: "<variable>: <message>. <Fix>." (the text of WorkloadError)."""
    fix = problem["fix"]
    return "%s: %s. %s." % (problem["variable"], problem["message"], fix[:1].upper() + fix[1:])


def editions():
    """Edition names known to the collection, newest first."""
    return list(reversed(available_editions()))


def _unknown_edition(edition):
    return _problem("mlperf_edition", "unknown edition %r; known editions are %s" % (edition, ", ".join(editions())),
                    "set mlperf_edition to one of them")


def _edition(edition):
    """The Edition of a name; WorkloadError naming the known editions when there is none."""
    try:
        return load_edition(DEFAULT_EDITION if edition is None else str(edition))
    except EditionError:
        problem = _unknown_edition(edition)
        raise WorkloadError(problem_text(problem), [problem])


def edition_rules(edition=DEFAULT_EDITION):
    """The training facts of one edition as one mapping (a copy): pairs, au_threshold, runs {warmup,
    measured} (what a plan makes by default), datasize_rounding (the plan's), overrides {closed, open,
    tool, tool_prefixes}."""
    ed = _edition(edition)
    classes = ed.override_classes()
    return {
        "pairs": ed.training_pairs(),
        "au_threshold": dict(ed.section("training").get("au_thresholds") or {}),
        "runs": ed.planned_training_runs(),
        "datasize_rounding": ed.datasize_rounding(),
        "overrides": {"closed": classes["closed"], "open": classes["open"], "tool": classes["tool_injected"],
                      "tool_prefixes": classes["tool_prefixes"]},
    }


def steps_per_epoch(edition=DEFAULT_EDITION):
    return _edition(edition).steps_per_epoch()


def memory_multiplier(edition=DEFAULT_EDITION):
    return _edition(edition).memory_multiplier()


def _every(what):
    """Every training model or accelerator of any edition, sorted."""
    names = set()
    for name in available_editions():
        names.update(load_edition(name).training_models() if what == "models"
                     else load_edition(name).training_accelerators())
    return sorted(names)


def _all_divisions():
    """Every division of any edition, in the order the newest edition lists them."""
    out = []
    for name in editions():
        for division in load_edition(name).divisions:
            if division not in out:
                out.append(division)
    return out


def workload_name(model, accelerator):
    """Hydra workload name of a training run: ``<model>_<accelerator>`` ('-' in a model becomes '_')."""
    return _edition_workload_name(model, accelerator)


def datagen_workload_name(model):
    """Hydra workload name of a data generation run: ``<model>_datagen``."""
    return "%s_datagen" % str(model).replace("-", "_")


def _pair_problems(model, accelerator, edition):
    """Problems with the pair itself (unknown names, pair absent from the edition)."""
    try:
        ed = load_edition(DEFAULT_EDITION if edition is None else str(edition))
    except EditionError:
        return [_unknown_edition(edition)]
    problems = []
    models, accelerators = _every("models"), _every("accelerators")
    if model not in models:
        problems.append(_problem("mlperf_model", "unknown training model %r; allowed values are %s"
                                 % (model, ", ".join(models)), "set mlperf_model to one of them"))
    if accelerator not in accelerators:
        problems.append(_problem("mlperf_accelerator", "unknown accelerator %r; allowed values are %s"
                                 % (accelerator, ", ".join(accelerators)), "set mlperf_accelerator to one of them"))
    if problems:
        return problems
    pairs = ed.training_pairs()
    if model not in pairs:
        return [_problem("mlperf_model", "%r is not a training model of edition %s; that edition has %s"
                         % (model, ed.name, ", ".join(sorted(pairs))),
                         "choose one of those, or set mlperf_edition to an edition that has %s" % model)]
    if accelerator not in pairs[model]:
        return [_problem("mlperf_accelerator", "%r is not available for mlperf_model %r in edition %s; allowed "
                         "accelerators for it are %s" % (accelerator, model, ed.name, ", ".join(sorted(pairs[model]))),
                         "set mlperf_accelerator to one of them")]
    return []


def check_pair(model, accelerator, edition=DEFAULT_EDITION, division="closed"):
    """Problems ([{variable, message, fix}]; empty when the pair may run in that edition and division).

    ``variable`` is the inventory variable to change (mlperf_model, mlperf_accelerator, mlperf_division
    or mlperf_edition); the message names the value given and the allowed values, ``fix`` what to set.
    """
    problems = []
    divisions = _all_divisions()
    if division not in divisions:
        problems.append(_problem("mlperf_division", "unknown division %r; allowed values are %s"
                                 % (division, ", ".join(divisions)), "set mlperf_division to one of them"))
    pair_problems = _pair_problems(model, accelerator, edition)
    if pair_problems or problems:
        return problems + pair_problems
    ed = load_edition(DEFAULT_EDITION if edition is None else str(edition))
    allowed = ed.pair_divisions(model, accelerator)
    if division not in allowed:
        problems.append(_problem(
            "mlperf_division", "%s + %s may not run in division %r of edition %s; allowed divisions for this pair "
            "are %s" % (model, accelerator, division, ed.name, ", ".join(allowed)),
            "set mlperf_division to one of them, or choose a pair that %s allows" % division))
    return problems


def read_workload(filename, what):
    """A copy of ``data/workloads/<filename>``; WorkloadError naming ``what`` when it is missing."""
    path = os.path.join(WORKLOAD_DIR, filename)
    if not os.path.isfile(path):
        raise WorkloadError("no workload definition for %s (expected %s)" % (what, path))
    return copy.deepcopy(_load_yaml_file(path))


_read_workload = read_workload


def load_workload(model, accelerator, edition=DEFAULT_EDITION):
    """The DLIO workload config (dict, MLPerf key names) of a training run.

    Raises WorkloadError (with ``problems``) when the pair does not exist in the edition. The division is
    not checked here: use check_pair() for that.
    """
    problems = _pair_problems(model, accelerator, edition)
    if problems:
        raise WorkloadError("; ".join(problem_text(p) for p in problems), problems)
    return read_workload(workload_name(model, accelerator) + ".yaml", "%s on %s" % (model, accelerator))


def load_datagen_workload(model, edition=DEFAULT_EDITION):
    """The DLIO workload config of the data generation run for a model."""
    ed = _edition(edition)
    models = sorted(ed.training_pairs())
    if model not in models:
        problem = _problem("mlperf_model", "%r is not a training model of edition %s; that edition has %s"
                           % (model, ed.name, ", ".join(models)), "set mlperf_model to one of them")
        raise WorkloadError(problem_text(problem), [problem])
    return read_workload(datagen_workload_name(model) + ".yaml", "data generation of %s" % model)


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


def _known_keys(classes):
    """Every dotted key the classifier can name in a "did you mean" hint."""
    known = set(classes["closed"]) | set(classes["open"]) | set(classes["tool_injected"])
    for name in os.listdir(WORKLOAD_DIR):
        if name.endswith(".yaml"):
            known.update(_flat_keys(_load_yaml_file(os.path.join(WORKLOAD_DIR, name))))
    return sorted(known)


def classify_overrides(params, edition=DEFAULT_EDITION, division="closed"):
    """Classify each override key under the rules of ``edition`` (Edition.classify_override, the verifier's
    own classification).

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
    ed = _edition(edition)
    classes = ed.override_classes()
    known = None
    result = []
    for key in sorted(params, key=str):
        key_text = str(key)
        kind = ed.classify_override(key_text)
        if kind == "tool":
            klass = TOOL
            message = "%s is set by the launcher, not counted as a user override" % key_text
            allowed = True
        elif kind == "closed":
            klass = CLOSED
            message = "%s may be overridden in CLOSED" % key_text
            allowed = True
        elif kind == "open":
            klass = OPEN
            allowed = division != "closed"
            message = "%s may only be overridden in OPEN; it makes the run OPEN" % key_text
            if not allowed:
                message += "; it is not allowed with mlperf_division=closed (set mlperf_division: open or drop it)"
        else:
            klass = INVALID
            allowed = False
            if known is None:
                known = _known_keys(classes)
            message = "%s is not an allowed override in edition %s; it makes the run INVALID" % (key_text, ed.name)
            close = difflib.get_close_matches(key_text, known, n=1, cutoff=0.75)
            if close:
                message += " (did you mean %s?)" % close[0]
            else:
                message += " (allowed in CLOSED: %s; OPEN only: %s)" % (
                    ", ".join(sorted(classes["closed"])), ", ".join(sorted(classes["open"])))
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
