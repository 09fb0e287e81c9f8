# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Dataset and checkpoint size arithmetic of the MLPerf Storage rules (rules.md sections 3.4, 4.7)."""
import math
from fractions import Fraction

from ansible_collections.mlperf.storage.plugins.plugin_utils import _workloads
from ansible_collections.mlperf.storage.plugins.plugin_utils.rules.edition import (
    DEFAULT_EDITION, EditionError, load_edition)

GIB = 1024 ** 3
# Above this many files the upstream tool suggests spreading them over subfolders.
FILES_PER_SUBFOLDER_HINT = 10000


class DatasizeError(ValueError):
    """Inputs the datasize rule cannot work with; the message names the input and the expected value."""


def _positive(name, value, integer=True):
    ok_type = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, ok_type) or value <= 0 or (
            isinstance(value, float) and not math.isfinite(value)):
        kind = "a positive integer" if integer else "a positive number"
        raise DatasizeError("%s must be %s, got %r" % (name, kind, value))
    return value


def _exact(value):
    # Fraction(str(x)) keeps a decimal record length such as 114660.07 exact.
    return Fraction(str(value)) if isinstance(value, float) else Fraction(value)


def _edition(edition):
    try:
        return load_edition(DEFAULT_EDITION if edition is None else edition)
    except EditionError as exc:
        raise DatasizeError("mlperf_edition: %s" % exc)


def training_datasize(total_memory_bytes, num_accelerators, record_length_bytes, samples_per_file,
                      batch_size, rounding=None, edition=DEFAULT_EDITION, steps_per_epoch=None,
                      memory_multiplier=None):
    """Minimum training dataset for the hosts' memory and the accelerator count.

    The dataset must be at least ``memory_multiplier`` times the client memory and give every
    simulated accelerator ``steps_per_epoch`` steps of ``batch_size`` samples per epoch; both come
    from ``edition`` unless given (500 and 5 in every edition so far). ``rounding`` applies to the
    memory-bound file count: "ceil" (v3.x tools) or "floor" (v2.0 and early v3 tools); by default the
    edition's plan rounding. The step-bound count uses integer division, as the upstream tool does.

    Returns {required_files, files_by_memory, files_by_steps, dominant ("memory"|"steps"),
    total_disk_bytes, required_subfolders, suggested_subfolders}. required_subfolders is 0 as
    the rule never requires subfolders; suggested_subfolders is the upstream hint (one per
    10,000 files) when there are more than 10,000 files, else 0.
    """
    _positive("total_memory_bytes", total_memory_bytes)
    _positive("num_accelerators", num_accelerators)
    _positive("record_length_bytes", record_length_bytes, integer=False)
    _positive("samples_per_file", samples_per_file)
    _positive("batch_size", batch_size)
    if rounding is None or steps_per_epoch is None or memory_multiplier is None:
        ed = _edition(edition)
        rounding = ed.datasize_rounding() if rounding is None else rounding
        steps_per_epoch = ed.steps_per_epoch() if steps_per_epoch is None else steps_per_epoch
        memory_multiplier = ed.memory_multiplier() if memory_multiplier is None else memory_multiplier
    if rounding not in ("ceil", "floor"):
        raise DatasizeError("rounding must be 'ceil' or 'floor', got %r" % (rounding,))

    file_bytes = samples_per_file * _exact(record_length_bytes)
    by_memory_exact = _exact(memory_multiplier) * total_memory_bytes / file_bytes
    files_by_memory = math.ceil(by_memory_exact) if rounding == "ceil" else math.floor(by_memory_exact)
    min_samples = int(steps_per_epoch) * num_accelerators * batch_size
    files_by_steps = min_samples // samples_per_file
    required = max(files_by_memory, files_by_steps)
    suggested = math.ceil(required / FILES_PER_SUBFOLDER_HINT) if required > FILES_PER_SUBFOLDER_HINT else 0
    return {
        "required_files": required,
        "files_by_memory": files_by_memory,
        "files_by_steps": files_by_steps,
        "dominant": "memory" if files_by_memory >= files_by_steps else "steps",
        "total_disk_bytes": math.ceil(required * file_bytes),
        "required_subfolders": 0,
        "suggested_subfolders": suggested,
    }


def training_datasize_for_workload(workload, total_memory_bytes, num_accelerators, edition=DEFAULT_EDITION):
    """training_datasize() with R, S and B read from a workload config, under the edition's constants and
    plan rounding."""
    dataset = workload.get("dataset") or {}
    reader = workload.get("reader") or {}
    record = dataset.get("record_length_bytes", dataset.get("record_length"))
    if record is None:
        raise DatasizeError("the workload has no dataset.record_length_bytes; the datasize rule needs it")
    return training_datasize(
        total_memory_bytes, num_accelerators, record,
        dataset.get("num_samples_per_file", 1), reader.get("batch_size", 1), edition=edition,
    )


def checkpoint_datasize(model, num_processes, zero_level=None, subset_of=None):
    """Per-rank and total checkpoint size (GB) of an LLM checkpointing workload.

    ZeRO 1: rank 0 writes the model plus its share of the optimizer, the other ranks only their
    share of the optimizer. ZeRO 3: every rank writes an equal share of model and optimizer.
    ``zero_level`` defaults to the level of the v3.x workload file. ``subset_of``: subset mode (rules.md
    §4.2), the ranks are the first ``num_processes`` of a run of that many and write only their shares.
    Returns {model, num_processes, zero_level, model_gb, optimizer_gb, per_rank_gb, total_gb} (and
    ``subset_of`` when given).
    """
    models = _workloads.load_data("checkpoint_models.yaml")["models"]
    if model not in models:
        raise DatasizeError(
            "mlperf_model: unknown checkpointing model %r; allowed values are %s"
            % (model, ", ".join(sorted(models)))
        )
    _positive("num_processes", num_processes)
    ranks = num_processes
    if subset_of is not None:
        _positive("subset_of", subset_of)
        if subset_of < num_processes:
            raise DatasizeError("a subset of %d ranks cannot hold %d processes" % (subset_of, num_processes))
        ranks = subset_of
    info = models[model]
    level = info["zero_stage"] if zero_level is None else zero_level
    if level not in (1, 3):
        raise DatasizeError("zero_level must be 1 or 3 (the levels the LLM workloads use), got %r" % (level,))
    model_gb, optimizer_gb = info["model_gb"], info["optimizer_gb"]
    if level == 1:
        share = optimizer_gb / ranks
        per_rank = [model_gb + share] + [share] * (ranks - 1)
    else:
        per_rank = [(model_gb + optimizer_gb) / ranks] * ranks
    per_rank = per_rank[:num_processes]
    out = {
        "model": model,
        "num_processes": num_processes,
        "zero_level": level,
        "model_gb": model_gb,
        "optimizer_gb": optimizer_gb,
        "per_rank_gb": per_rank,
        "total_gb": sum(per_rank),
    }
    if subset_of is not None:
        out["subset_of"] = subset_of
    return out
