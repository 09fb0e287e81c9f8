# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The DLIO engine adapter: which DLIO generation is installed, what its workload keys mean to it,
and the hydra command line that runs it.

DLIO ignores workload keys it does not know and exits 0, so a parameter that the installed build
does not read would silently change the benchmark. adapt_workload() therefore translates keys whose
meaning is identical under another name, records harmless ones as notes, and refuses the rest
before anything runs. The key lists per generation live in data/dlio_generations.yaml; the table of
decisions is documented in docs/engines.md.
"""
import copy
import difflib
import math
import re

from ansible_collections.mlperf.storage.plugins.plugin_utils import _workloads
from ansible_collections.mlperf.storage.plugins.plugin_utils.rules.util import get_path

PYPI = "pypi-2.0.0"
MLPERF_V2 = "mlperf-v2.0"
MLPERF_V3 = "mlperf-v3.0"
GENERATIONS = (PYPI, MLPERF_V2, MLPERF_V3)

# How an operator gets an engine that reads the MLPerf keys.
SUBMISSION_FIX = "set mlperf_env_profile: submission to install the MLPerf DLIO engine"

# Keys the launcher sets for bookkeeping; an engine that does not read them runs the same workload.
BOOKKEEPING_KEYS = {
    "dataset.skip_listing": "only changes how files are discovered (listing instead of computed names); "
                            "the same files are read",
    "dataset.listing_validation_interval": "only used together with dataset.skip_listing",
    "dataset.num_files_generated": "only used to rebuild file names with dataset.skip_listing",
    "dataset.total_disk_bytes": "a record of the datasize result; no engine reads it",
    "storage.post_generation_settle_seconds": "a pause after data generation; no effect on the measured run",
    "dataset.data_gen_method": "how random bytes are produced during generation; the files have the same sizes",
    "reader.write_threads": "parallelism of data generation only; the measured run is unaffected",
}

# The three timing values that the MLPerf generations accept as {mean, stdev} mappings.
TIMING_KEYS = ("train.computation_time", "reader.preprocess_time", "evaluation.eval_time")

# Enumerated values the PyPI build accepts (anything else fails at start-up or is unsupported).
PYPI_FORMATS = ("tfrecord", "hdf5", "csv", "npz", "npy", "hdf5_opt", "jpeg", "png", "indexed_binary",
                "mmap_indexed_binary", "synthetic")
PYPI_STORAGE_TYPES = ("local_fs", "parallel_fs", "s3")

CHECKPOINT_ONLY_KEYS = ("checkpoint.mode", "checkpoint.num_checkpoints_write", "checkpoint.num_checkpoints_read",
                        "checkpoint.time_between_checkpoints", "checkpoint.fsync", "checkpoint.recovery_rank_shift",
                        "checkpoint.rank_sync", "checkpoint.randomize_tensor")


class EngineError(ValueError):
    """The engine generation cannot be determined or is unknown; the message says how to fix it."""


class AdaptResult(object):
    """Outcome of adapt_workload().

    config: the workload as the installed generation must receive it.
    translations: [{from, to, reason}] keys renamed to the name this generation reads (same meaning).
    refusals: [{key, reason, fix}] keys this generation would ignore or treat differently; do not run.
    notes: [{key, action, note}] keys that are dropped or kept although the engine does not act on
           them, because they cannot change the measured result.
    """

    def __init__(self, config, translations=None, refusals=None, notes=None):
        self.config = config
        self.translations = translations if translations is not None else []
        self.refusals = refusals if refusals is not None else []
        self.notes = notes if notes is not None else []

    @property
    def ok(self):
        return not self.refusals

    def as_dict(self):
        return {"config": self.config, "translations": self.translations, "refusals": self.refusals,
                "notes": self.notes, "ok": self.ok}

    def error_message(self):
        """One message listing every refusal with its fix (empty when there are none)."""
        return "; ".join("%s: %s (fix: %s)" % (r["key"], r["reason"], r["fix"]) for r in self.refusals)

    def __repr__(self):
        return "AdaptResult(translations=%d, refusals=%d, notes=%d)" % (
            len(self.translations), len(self.refusals), len(self.notes))


# ----------------------------------------------------------------------------- generations

def _unknown_generation(generation):
    # the generation is what the launcher's environment lock names: the lock profile is what to change
    return EngineError("unknown DLIO generation %r in the launcher's environment lock; known generations are %s. "
                       "Set mlperf_env_profile to a bundled lock profile and run playbooks/provision.yml"
                       % (generation, ", ".join(GENERATIONS)))


def generation_info(generation):
    """The data block of one generation (description, versions, keys_read, ...)."""
    table = _workloads.load_data("dlio_generations.yaml")["generations"]
    if generation not in table:
        raise _unknown_generation(generation)
    return table[generation]


def detect_generation(version, source):
    """Name the DLIO generation from the installed version and the source the installer recorded.

    ``source`` is "pypi" for the PyPI package, or the git URL/ref the engine was installed from
    (pip's direct_url, e.g. "git+https://github.com/mlcommons/DLIO_local_changes@cbe2001").
    PyPI 2.0.0 and the mlperf_storage_v2.0 branch both call themselves 2.0.0, so the source decides.
    """
    version = str(version or "").strip()
    text = str(source or "").strip().lower()
    if "dlio_local_changes" in text:
        return MLPERF_V3
    if "mlperf_storage_v2.0" in text or "392621b" in text:
        return MLPERF_V2
    if text in ("pypi", "pip", "registry") or text.startswith("pypi"):
        if version == "2.0.0":
            return PYPI
        raise EngineError(
            "dlio-benchmark %s from PyPI is not a supported engine; the collection supports 2.0.0 from PyPI "
            "(%s), or %s" % (version or "(unknown version)", PYPI, SUBMISSION_FIX)
        )
    if "argonne-lcf/dlio_benchmark" in text and re.search(r"@v?2\.0\.0\b", text):
        return PYPI  # the upstream v2.0.0 tag is the code PyPI ships
    if not text and version.startswith("3."):
        return MLPERF_V3  # only the MLPerf fork carries 3.x versions
    raise EngineError(
        "cannot tell which DLIO generation is installed (version %r, source %r); the source must be 'pypi' "
        "or the git URL/ref it was installed from (mlperf_storage_v2.0 branch of argonne-lcf/dlio_benchmark, "
        "or mlcommons/DLIO_local_changes). Reinstall the engine with the collection's python_env role so the "
        "source is recorded, or %s" % (version, source, SUBMISSION_FIX)
    )


# ----------------------------------------------------------------------------- dotted helpers

_flatten = _workloads.flatten


_MISSING = object()


_get = get_path


def _has(config, dotted):
    return _get(config, dotted, _MISSING) is not _MISSING


def _pop(config, dotted):
    """Remove a dotted key and any section it leaves empty; return its value."""
    parts = dotted.split(".")
    chain = [config]
    for part in parts[:-1]:
        chain.append(chain[-1][part])
    value = chain[-1].pop(parts[-1])
    for depth in range(len(parts) - 2, -1, -1):
        if chain[depth + 1] == {}:
            del chain[depth][parts[depth]]
    return value


def _set(config, dotted, value):
    parts = dotted.split(".")
    node = config
    for part in parts[:-1]:
        if not isinstance(node.get(part), dict):
            node[part] = {}
        node = node[part]
    node[parts[-1]] = value


def _truthy(value):
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes", "on")
    return bool(value)


# ----------------------------------------------------------------------------- adaptation rules

class _Adapter(object):
    def __init__(self, config, generation):
        self.generation = generation
        self.info = generation_info(generation)
        self.read = set(self.info["keys_read"])
        self.whole = tuple(self.info.get("whole_value_keys") or ())
        self.result = AdaptResult(copy.deepcopy(config))
        self.cfg = self.result.config

    # recording -----------------------------------------------------------
    def translate(self, src, dst, reason):
        self.result.translations.append({"from": src, "to": dst, "reason": reason})

    def refuse(self, key, reason, fix=SUBMISSION_FIX):
        self.result.refusals.append({"key": key, "reason": reason, "fix": fix})

    def note(self, key, note, action="dropped"):
        self.result.notes.append({"key": key, "action": action, "note": note})

    def drop(self, key, note):
        _pop(self.cfg, key)
        self.note(key, note)

    # primitives ----------------------------------------------------------
    def rename(self, src, dst, reason):
        if not _has(self.cfg, src):
            return
        value = _get(self.cfg, src)
        if _has(self.cfg, dst) and _get(self.cfg, dst) != value:
            self.refuse(src, "both %s (%r) and %s (%r) are set and disagree; the engine reads only %s"
                        % (src, value, dst, _get(self.cfg, dst), dst),
                        "keep one of them (the MLPerf name is %s)" % (src if "bytes" in src else dst))
            return
        _pop(self.cfg, src)
        _set(self.cfg, dst, value)
        self.translate(src, dst, reason)

    def is_read(self, dotted):
        if dotted.startswith("data_reader."):
            dotted = "reader." + dotted[len("data_reader."):]
        if dotted in self.read:
            return True
        return any(dotted == w or dotted.startswith(w + ".") for w in self.whole)

    def checkpointing_on(self):
        return _truthy(_get(self.cfg, "workflow.checkpoint", False))

    # rules shared by all generations ---------------------------------------
    def bookkeeping(self):
        for key, why in sorted(BOOKKEEPING_KEYS.items()):
            if _has(self.cfg, key) and not self.is_read(key):
                self.drop(key, "not read by %s; %s" % (self.generation, why))

    def refuse_unread(self):
        for key, value in sorted(_flatten(self.cfg).items()):
            if self.is_read(key):
                continue
            if value in (None, {}) and any(k.startswith(key + ".") for k in self.read):
                continue  # an empty section the engine knows: nothing in it to ignore
            readers = [g for g in GENERATIONS if g != self.generation and _key_read_by(key, g)]
            if readers:
                fix = SUBMISSION_FIX + " (%s reads it)" % ", ".join(readers)
            else:
                close = difflib.get_close_matches(key, sorted(self.read), n=1, cutoff=0.75)
                fix = ("did you mean %s?" % close[0]) if close else "remove it; no DLIO generation reads it"
            self.refuse(key, "%s does not read %s: it would run as if the key were absent" % (self.generation, key),
                        fix)

    # PyPI 2.0.0 -------------------------------------------------------------
    def pypi_rules(self):
        same = "2.0.0 reads the same quantity (bytes per sample; sample side = sqrt of it) under this name"
        self.rename("dataset.record_length_bytes", "dataset.record_length", same)
        self.rename("dataset.record_length_bytes_stdev", "dataset.record_length_stdev", same)
        self.rename("dataset.record_length_bytes_resize", "dataset.record_length_resize", same)
        self.pypi_model_block()
        for key in TIMING_KEYS:
            self.pypi_timing(key)
        if not _truthy(_get(self.cfg, "workflow.train", False)) and self.checkpointing_on():
            self.refuse("workflow.checkpoint",
                        "a checkpoint-only run (workflow.train false, workflow.checkpoint true) is a silent no-op "
                        "on 2.0.0: it exits 0 without writing a checkpoint")
        for key in CHECKPOINT_ONLY_KEYS:
            if _has(self.cfg, key):
                self.refuse(key, "2.0.0 has no %s; the checkpoint phase would run with its own fixed behaviour" % key)
        if _has(self.cfg, "reader.odirect"):
            if _truthy(_get(self.cfg, "reader.odirect")):
                self.refuse("reader.odirect", "2.0.0 has no O_DIRECT reads; it would read through the page cache")
            else:
                self.drop("reader.odirect", "false is what 2.0.0 always does (buffered reads)")
        if _has(self.cfg, "reader.pin_memory"):
            if _truthy(_get(self.cfg, "reader.pin_memory")):
                self.drop("reader.pin_memory", "true is what the 2.0.0 PyTorch loader always does")
            else:
                self.refuse("reader.pin_memory", "the 2.0.0 PyTorch loader always pins memory")
        start = "output.metric.exclude_start_steps"
        if _has(self.cfg, start):
            if _get(self.cfg, start) == 1:
                self.drop(start, "2.0.0 always leaves out the first step of each block from AU (but counts it in "
                                 "throughput)")
            else:
                self.refuse(start, "2.0.0 always leaves out exactly one start step from AU; %r cannot be honoured"
                            % (_get(self.cfg, start),))
        end = "output.metric.exclude_end_steps"
        if _has(self.cfg, end):
            if _get(self.cfg, end) == 0:
                self.drop(end, "0 is what 2.0.0 always does")
            else:
                self.refuse(end, "2.0.0 cannot leave out end steps from its metrics")
        fmt = _get(self.cfg, "dataset.format")
        if fmt is not None and fmt not in PYPI_FORMATS:
            self.refuse("dataset.format", "2.0.0 has no %r data format (it knows %s)" % (fmt, ", ".join(PYPI_FORMATS)))
        storage_type = _get(self.cfg, "storage.storage_type")
        if storage_type is not None and storage_type not in PYPI_STORAGE_TYPES:
            self.refuse("storage.storage_type", "2.0.0 has no %r storage type (it knows %s)"
                        % (storage_type, ", ".join(PYPI_STORAGE_TYPES)))

    def pypi_model_block(self):
        model = _get(self.cfg, "model")
        if not isinstance(model, dict):
            return
        keys = sorted(_flatten(model, "model."))
        if "model.name" in keys:
            self.translate("model.name", "model", "2.0.0 takes model as a plain label; only the name is kept")
        if "model.type" in keys:
            self.note("model.type", "2.0.0 has no model type; every model is handled alike for training")
        if "model.model_size" in keys:
            if self.checkpointing_on():
                _set(self.cfg, "checkpoint.model_size", model["model_size"])
                self.translate("model.model_size", "checkpoint.model_size",
                               "2.0.0 reads the checkpointed model size (bytes) from the checkpoint section")
            else:
                self.note("model.model_size", "only sizes the checkpoint, and this run writes none")
        for key in keys:
            if key not in ("model.name", "model.type", "model.model_size"):
                self.refuse(key, "2.0.0 has no %s: the LLM model description (layers, parallelism, transformer "
                                 "sizes) only exists in the MLPerf generations" % key)
        if "name" in model:
            self.cfg["model"] = model["name"]
        else:
            del self.cfg["model"]

    def pypi_timing(self, key):
        value = _get(self.cfg, key)
        if not isinstance(value, dict):
            return
        unknown = sorted(set(value) - {"mean", "stdev"})
        if unknown:
            self.refuse(key, "2.0.0 reads %s as one number (plus %s_stdev); the %s form cannot be expressed"
                        % (key, key, ", ".join(unknown)))
            return
        _pop(self.cfg, key)
        if "mean" in value:
            _set(self.cfg, key, value["mean"])
            self.translate(key + ".mean", key, "2.0.0 reads the mean as a plain number")
        if "stdev" in value:
            _set(self.cfg, key + "_stdev", value["stdev"])
            self.translate(key + ".stdev", key + "_stdev", "2.0.0 reads the spread under this name")

    # MLPerf generations -----------------------------------------------------
    def mlperf_rules(self):
        same = "the MLPerf generations read the same quantity under the _bytes name"
        self.rename("dataset.record_length", "dataset.record_length_bytes", same)
        self.rename("dataset.record_length_stdev", "dataset.record_length_bytes_stdev", same)
        self.rename("dataset.record_length_resize", "dataset.record_length_bytes_resize", same)
        model = _get(self.cfg, "model")
        if isinstance(model, str):
            self.cfg["model"] = {"name": model}
            self.translate("model", "model.name", "the MLPerf generations read the model label from model.name")
        if _has(self.cfg, "model.model_size"):
            # The upstream unet3d workload writes model.model_size, which these engines never read
            # (they read model.model_size_bytes); with checkpointing on that would shrink the
            # checkpoint to the engine default, so the size is carried over.
            if self.checkpointing_on():
                self.rename("model.model_size", "model.model_size_bytes",
                            "this engine reads the checkpointed model size (bytes) as model.model_size_bytes")
            else:
                self.drop("model.model_size", "not read by %s, and it only sizes the checkpoint, which this run "
                                              "does not write" % self.generation)

    def run(self):
        if self.generation == PYPI:
            self.pypi_rules()
        else:
            self.mlperf_rules()
        self.bookkeeping()
        refused = set(r["key"] for r in self.result.refusals)
        before = len(self.result.refusals)
        self.refuse_unread()
        # keep one refusal per key
        seen = set()
        kept = self.result.refusals[:before]
        for item in self.result.refusals[before:]:
            if item["key"] not in refused and item["key"] not in seen:
                seen.add(item["key"])
                kept.append(item)
        self.result.refusals = kept
        return self.result


def _key_read_by(key, generation):
    info = generation_info(generation)
    if key in info["keys_read"]:
        return True
    return any(key == w or key.startswith(w + ".") for w in info.get("whole_value_keys") or ())


def adapt_workload(config, generation):
    """Adapt a workload config (MLPerf key names) to the installed DLIO generation.

    Returns an AdaptResult. Never run the engine when ``result.refusals`` is not empty.
    """
    if not isinstance(config, dict):
        raise EngineError("the workload config must be a mapping, got %s" % type(config).__name__)
    if generation not in GENERATIONS:
        raise _unknown_generation(generation)
    return _Adapter(config, generation).run()


def translate_overrides(params, result):
    """Rename user overrides the way adapt_workload() renamed the workload keys.

    Dropped keys (see result.notes) are left out; everything else passes unchanged. Use this for
    the ``++workload.`` arguments so that they match the adapted workload file.
    """
    renames = dict((t["from"], t["to"]) for t in result.translations)
    dropped = set(n["key"] for n in result.notes if n["action"] == "dropped")
    out = {}
    for key, value in params.items():
        if key in dropped:
            continue
        if isinstance(value, dict) and key in TIMING_KEYS:
            for sub, sub_value in value.items():
                target = renames.get("%s.%s" % (key, sub))
                if target:
                    out[target] = sub_value
            continue
        out[renames.get(key, key)] = value
    return out


# ----------------------------------------------------------------------------- command line

_UNQUOTED_SAFE = re.compile(r"^[A-Za-z_/][A-Za-z0-9_./\-+%@:]*$")
_HYDRA_WORDS = ("true", "false", "null", "inf", "nan")


def _quote_body(text):
    # Inside hydra's quoted strings a backslash is literal unless it precedes a quote (or the
    # closing quote): those runs are doubled and each quote gets its own backslash.
    text = re.sub(r"(\\*)'", lambda m: m.group(1) * 2 + "\\'", text)
    return re.sub(r"(\\+)$", lambda m: m.group(1) * 2, text)


def hydra_value(value):
    """Render a value so that hydra's override parser reads back the same value and type."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(hydra_value(v) for v in value) + "]"
    if isinstance(value, dict):
        items = []
        for key, item in value.items():
            if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", str(key)):
                raise EngineError("cannot pass mapping key %r on the hydra command line; use dotted overrides"
                                  % (key,))
            items.append("%s:%s" % (key, hydra_value(item)))
        return "{" + ",".join(items) + "}"
    if isinstance(value, str):
        if "${" in value:
            raise EngineError("override value %r contains '${', which hydra would treat as an interpolation" % value)
        if _UNQUOTED_SAFE.match(value) and value.lower() not in _HYDRA_WORDS:
            return value
        return "'" + _quote_body(value) + "'"
    raise EngineError("cannot pass a %s value on the hydra command line: %r" % (type(value).__name__, value))


def hydra_argv(dlio_bin, workload_name, run_dir, config_dir, overrides, output_subdir="dlio_config"):
    """The DLIO command line (without the MPI launcher) in the shape the upstream tool uses."""
    argv = [str(dlio_bin), "workload=%s" % workload_name, "++hydra.run.dir=%s" % hydra_value(str(run_dir)),
            "++hydra.output_subdir=%s" % hydra_value(str(output_subdir))]
    for key, value in (overrides or {}).items():
        _workloads.split_key(key)  # rejects malformed keys with a clear message
        argv.append("++workload.%s=%s" % (key, hydra_value(value)))
    argv.append("--config-dir=%s" % config_dir)
    return argv
