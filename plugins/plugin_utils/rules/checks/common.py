# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Checks that apply to every benchmark: edition, division, layout, engine, leaf files."""
from __future__ import annotations

import re

from . import run_check
from ..util import get_path, to_int

ALL = ("training", "checkpointing", "vector_database", "kv_cache")


@run_check("EDN-02", "benchmark is part of the edition", benchmarks=ALL, commands=None)
def check_edition_benchmark(ctx):
    run = ctx.run
    if not ctx.edition.has_benchmark(run.benchmark):
        return ctx.invalid("benchmark %s is not part of rules edition %s (it has: %s); judge this run under an "
                           "edition that defines it" % (run.benchmark, ctx.edition.name,
                                                        ", ".join(ctx.edition.data.get("benchmarks") or [])),
                           parameter="benchmark", expected=ctx.edition.data.get("benchmarks"), actual=run.benchmark)
    return None


@run_check("DIV-01", "division is one the edition knows", benchmarks=ALL, commands=None)
def check_division(ctx):
    divisions = ctx.edition.data.get("divisions") or []
    if ctx.division not in divisions:
        return ctx.invalid("division %r is not one of %s for edition %s; place the run under "
                           "<results>/<division>/<org>/results/<system>/..."
                           % (ctx.division, ", ".join(divisions), ctx.edition.name),
                           parameter="division", expected=divisions, actual=ctx.division)
    if ctx.division == "whatif":
        return ctx.open("whatif results are exploratory and never submittable", parameter="division",
                        actual="whatif")
    return ctx.ok("division %s" % ctx.division, parameter="division", actual=ctx.division)


@run_check("LAYOUT-01", "metadata agrees with the run directory path", benchmarks=ALL, commands=None,
           planned=False)
def check_layout_matches_metadata(ctx):
    run = ctx.run
    layout = run.layout or {}
    meta = run.metadata if isinstance(run.metadata, dict) else {}
    issues = []
    pairs = [("model", layout.get("model"), meta.get("model")),
             ("run_datetime", layout.get("run_datetime"), meta.get("run_datetime"))]
    if run.benchmark != "checkpointing":
        pairs.append(("command", layout.get("command"), meta.get("command")))
    mode = run.args.get("mode") if isinstance(run.args, dict) else None
    pairs.append(("division", layout.get("division"), mode))
    for name, from_path, from_meta in pairs:
        if from_path and from_meta and str(from_path) != str(from_meta):
            issues.append(ctx.invalid("the run directory path says %s=%s but %s records %s=%s; the run is filed "
                                      "in the wrong place or its metadata belongs to another run"
                                      % (name, from_path, run.metadata_file, name, from_meta),
                                      parameter=name, expected=from_path, actual=from_meta))
    return issues


@run_check("RUN-EXIT", "the benchmark process exited successfully", benchmarks=ALL, commands=None, planned=False)
def check_exit_status(ctx):
    status = get_path(ctx.run.metadata, "exit_status")
    if status is None:
        return None
    code = to_int(status)
    if code != 0:
        return ctx.invalid("the benchmark exited with status %s; a failed run is not a result" % status,
                           parameter="exit_status", expected=0, actual=status)
    return ctx.ok("benchmark exit status 0", parameter="exit_status", actual=0)


@run_check("ENGINE-01", "the engine build applies the MLPerf workload keys", benchmarks=("training", "checkpointing"),
           commands=None)
def check_engine_generation(ctx):
    engine = ctx.run.engine
    generation = engine.get("generation")
    if not generation:
        return None
    if ctx.edition.engine_generation_incomplete(generation):
        return ctx.invalid(
            "engine %s %s (generation %s) silently ignores MLPerf workload keys (record_length_bytes, "
            "checkpoint modes, odirect); its numbers do not measure the declared workload. Install the "
            "pinned MLPerf DLIO build for a submittable result"
            % (engine.get("name", "dlio"), engine.get("version", "?"), generation),
            parameter="engine.generation", actual=generation)
    return ctx.ok("engine generation %s" % generation, parameter="engine.generation", actual=generation)


@run_check("2.1.14", "run leaf holds the required files", benchmarks=("training", "checkpointing"),
           commands=("run", "datagen"), planned=False, package=True)
def check_leaf_files(ctx):
    run = ctx.run
    key = "%s_%s" % (run.benchmark, run.command)
    patterns = (ctx.edition.data.get("leaf_files") or {}).get(key)
    if not patterns:
        return None
    issues = []
    for pattern in patterns:
        rx = re.compile(pattern)
        if not any(rx.search(name) for name in run.files):
            issues.append(ctx.invalid("required file matching %s is missing from the run leaf" % pattern,
                                      parameter=pattern))
    return issues
