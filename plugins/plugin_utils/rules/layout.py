# -*- coding: utf-8 -*-
# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The results tree's layout (rules.md §8.1-8.2): the one place that builds a result's path and parses it back.

``<root>/<division>/<org>/results/<system>/<benchmark>/<model...>/<command>/<YYYYMMDD_HHMMSS>``

- training: ``training/<model>/{datasize,datagen,run}/<ts>``
- checkpointing: ``checkpointing/<model>/<ts>`` (no command folder; the command is "run")
- KV cache: ``kv_cache/<model>/run/<ts>``
- vector database: ``vector_database/<engine>/<INDEX>/{datagen,run}/<ts>``; its "model" is the two segments

The plans build every path with :func:`model_base` and :func:`command_base`; the verifier's loader, the report
and the earlier-runs lookup read paths with :func:`parse`. Plain Python, no I/O.
"""
from __future__ import annotations

from .util import RUN_DIR_RE

BENCHMARKS = ("training", "checkpointing", "vector_database", "kv_cache")
# Folder names other tools (and older trees) use for a benchmark; the results path this collection writes uses
# the benchmark id itself (docs/glossary.md).
BENCHMARK_ALIASES = {
    "training": "training",
    "checkpointing": "checkpointing",
    "checkpoint": "checkpointing",
    "vector_database": "vector_database",
    "vectordb": "vector_database",
    "vector-database": "vector_database",
    "kv_cache": "kv_cache",
    "kvcache": "kv_cache",
    "kv-cache": "kv_cache",
}
# Folder names recognised as a benchmark's folder in a path (the other aliases name benchmarks in metadata only).
BENCHMARK_FOLDERS = BENCHMARKS + ("vectordb", "kvcache")
DIVISIONS = ("closed", "open", "whatif")
# Benchmarks whose leaves sit in a folder named after the command; checkpointing's sit right under the model.
_COMMAND_FOLDERS = {"training": ("datasize", "datagen", "run"), "kv_cache": ("run",),
                    "vector_database": ("datagen", "run"), "checkpointing": ()}


def normalize_benchmark(name):
    """The benchmark id of a folder name or alias, or None."""
    if not isinstance(name, str):
        return None
    return BENCHMARK_ALIASES.get(name.strip().lower())


def model_segments(benchmark, model):
    """The path segments of a model: one for most benchmarks, ``<engine>/<INDEX>`` for the vector database."""
    segments = [s for s in str(model).split("/") if s]
    expected = 2 if benchmark == "vector_database" else 1
    if len(segments) != expected or any(s in (".", "..") for s in segments):
        raise ValueError("%s model %r must be %d path segment(s)" % (benchmark, model, expected))
    return segments


def model_base(root, division, org, system, benchmark, model):
    """``<root>/<division>/<org>/results/<system>/<benchmark>/<model...>``: the folder one result lives in."""
    if benchmark not in BENCHMARKS:
        raise ValueError("unknown benchmark %r (one of %s)" % (benchmark, ", ".join(BENCHMARKS)))
    return "/".join([str(root).rstrip("/") or "", str(division), str(org), "results", str(system), benchmark]
                    + model_segments(benchmark, model))


def command_base(model_dir, benchmark, command):
    """The folder the run directories of one command are made in (under :func:`model_base`)."""
    folders = _COMMAND_FOLDERS[benchmark]
    if not folders:
        if command != "run":
            raise ValueError("%s has only the run command, not %r" % (benchmark, command))
        return model_dir
    if command not in folders:
        raise ValueError("%s has no %r command folder (one of %s)" % (benchmark, command, ", ".join(folders)))
    return "%s/%s" % (model_dir, command)


def parse(path):
    """Division/org/system/benchmark/model/command/run_datetime of a path in the layout, as far as it goes.

    ``root_parts`` are the segments above ``<division>`` (or above the benchmark folder when the path is not in
    the submission layout). Unknown layouts give ``{}``."""
    parts = [p for p in str(path).replace("\\", "/").split("/") if p]
    info = {}
    bench_idx = None
    for idx in range(len(parts) - 1, -1, -1):
        if parts[idx] in BENCHMARK_FOLDERS:
            bench_idx = idx
            break
    if bench_idx is None:
        return info
    info["benchmark"] = bench = normalize_benchmark(parts[bench_idx])
    if bench_idx >= 4 and parts[bench_idx - 2] == "results" and parts[bench_idx - 4] in DIVISIONS:
        info["division"] = parts[bench_idx - 4]
        info["org"] = parts[bench_idx - 3]
        info["system"] = parts[bench_idx - 1]
        info["root_parts"] = parts[: bench_idx - 4]
    else:
        info["root_parts"] = parts[:bench_idx]
    tail = parts[bench_idx + 1:]
    if tail and RUN_DIR_RE.match(tail[-1]):
        info["run_datetime"] = tail[-1]
        tail = tail[:-1]
    if bench in ("training", "kv_cache"):
        if len(tail) >= 1:
            info["model"] = tail[0]
        if len(tail) >= 2:
            info["command"] = tail[1]
    elif bench == "checkpointing":
        if len(tail) >= 1:
            info["model"] = tail[0]
        info["command"] = tail[1] if len(tail) >= 2 else "run"
    elif bench == "vector_database":
        if len(tail) >= 2:
            info["engine"], info["index"] = tail[0], tail[1]
            info["model"] = "%s_%s" % (tail[0], tail[1])
        if len(tail) >= 3:
            info["command"] = tail[2]
        elif len(tail) == 1:
            info["command"] = tail[0]
    return info
