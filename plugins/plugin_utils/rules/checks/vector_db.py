# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Vector-database per-run checks (spec 6.2)."""
from __future__ import annotations

from . import run_check
from .training import fs_separation_check
from ..util import get_path, to_number

V = ("vector_database",)


def vdb_index(run):
    """The run's index type (upper case) from its settings or its results path, None when neither says."""
    index = vdb_field(run, "vdb_index") or vdb_field(run, "index_type") or run.layout.get("index")
    return str(index).upper() if index else None


def vdb_field(run, key):
    """A run setting from the metadata top level, its args, or the client's config.json."""
    meta = run.metadata if isinstance(run.metadata, dict) else {}
    for source in (meta, run.args, run.vdb_config or {}):
        if isinstance(source, dict) and source.get(key) is not None:
            return source.get(key)
    return None


def vdb_recall(summary):
    recall = get_path(summary, "recall")
    if isinstance(recall, dict):
        for key in ("mean_recall", "recall_at_k", "recall"):
            if to_number(recall.get(key)) is not None:
                return to_number(recall.get(key))
        return None
    value = to_number(recall)
    if value is None:
        value = to_number(get_path(summary, "mean_recall"))
    return value


@run_check("5.0-PREVIEW", "vector database is a preview benchmark in this edition", benchmarks=V, commands=None)
def check_vdb_preview(ctx):
    if ctx.section("vector_database").get("preview"):
        return ctx.open("vector database is a preview benchmark in edition %s: not accepted for CLOSED"
                        % ctx.edition.name, parameter="benchmark")
    return None


def _division_choice(ctx, key, value, parameter, kind, short):
    """INVALID for a value of vector_database.<key> the edition does not know, OPEN for one the division does not
    allow (the CLOSED list is named), None when the division allows it."""
    allowed = ctx.edition.by_division("vector_database", key, ctx.division)
    known = ctx.edition.all_of("vector_database", key)
    if value not in known:
        return ctx.invalid("unknown %s %s (known: %s)" % (kind, value, ", ".join(known)),
                           parameter=parameter, expected=known, actual=value)
    if value not in allowed:
        return ctx.open("%s %s is OPEN only (CLOSED: %s)" % (short, value, ", ".join(allowed)),
                        parameter=parameter, expected=allowed, actual=value)
    return None


@run_check("5.6.2", "database backend allowed in the division", benchmarks=V, commands=("run", "datagen"))
def check_vdb_engine(ctx):
    run = ctx.run
    engine = (vdb_field(run, "vdb_engine") or run.layout.get("engine") or "milvus")
    engine = str(engine).lower()
    refused = _division_choice(ctx, "engines", engine, "vdb_engine", "vector database", "database")
    if refused:
        return refused
    backend = vdb_field(run, "vdb_backend")
    open_only = ctx.section("vector_database").get("open_only_backends") or []
    if backend and str(backend).lower() in open_only:
        return ctx.open("database %s ran as %s, which is not a %s deployment (it cannot build DISKANN or AISAQ): "
                        "OPEN only" % (engine, backend, engine), parameter="vdb_backend",
                        expected="a %s deployment" % engine, actual=backend)
    return ctx.ok("database %s" % engine, parameter="vdb_engine", actual=engine)


@run_check("5.6.3", "index type allowed in the division", benchmarks=V, commands=("run", "datagen"))
def check_vdb_index(ctx):
    run = ctx.run
    index = vdb_index(run)
    if not index:
        return ctx.invalid("the run records no index type", parameter="index_type",
                           expected=ctx.edition.by_division("vector_database", "index_types", ctx.division))
    refused = _division_choice(ctx, "index_types", index, "index_type", "index type", "index")
    if refused:
        return refused
    layout_index = run.layout.get("index")
    if layout_index and layout_index.upper() != index:
        return ctx.invalid("the path says index %s but the run records %s" % (layout_index, index),
                           parameter="index_type", expected=layout_index, actual=index)
    return ctx.ok("index %s" % index, parameter="index_type", actual=index)


@run_check("5.6.4", "benchmark mode and runtime", benchmarks=V)
def check_vdb_mode_runtime(ctx):
    run = ctx.run
    sec = ctx.section("vector_database")
    issues = []
    mode = vdb_field(run, "benchmark_mode") or "timed"
    modes = ctx.edition.by_division("vector_database", "benchmark_modes", ctx.division)
    if modes and mode not in modes:
        issues.append(ctx.open("benchmark mode %s is not allowed in the %s division (allowed: %s)"
                               % (mode, ctx.division, ", ".join(modes)), parameter="benchmark_mode",
                               expected=modes, actual=mode))
    runtime = to_number(run.args.get("runtime"))
    if runtime is None:
        runtime = to_number(get_path(run.vdb_config, "runtime_seconds"))
    minimum = sec.get("min_runtime_s") or 0
    if mode == "timed" and runtime is not None and runtime < minimum:
        issues.append(ctx.invalid("runtime %ss is below the %ss minimum" % (runtime, minimum),
                                  parameter="runtime", expected=">= %s" % minimum, actual=runtime))
    if not issues:
        issues.append(ctx.ok("mode %s, runtime %s s" % (mode, runtime), parameter="benchmark_mode"))
    return issues


@run_check("5.3.4", "query metrics and recall are reported", benchmarks=V, planned=False)
def check_vdb_metrics(ctx):
    run = ctx.run
    if not isinstance(run.summary, dict):
        return ctx.invalid("no summary.json or statistics.json: the run reported no query metrics",
                           parameter="summary.json")
    issues = []
    for key in ctx.section("vector_database").get("required_metrics") or []:
        if to_number(run.summary.get(key)) is None:
            issues.append(ctx.invalid("query metric %s is missing" % key, parameter=key))
    recall = vdb_recall(run.summary)
    if recall is None and isinstance(run.vdb_verdict, dict):
        # 5.3.2: recall may be reported by the ground-truth verdict when the summary carries none
        recall = vdb_recall({"recall": run.vdb_verdict.get("recall_summary")})
    if recall is None:
        issues.append(ctx.invalid("recall is not reported", parameter="recall", rule_id="5.3.2"))
    elif recall <= 0.0:
        issues.append(ctx.invalid("recall %.4f is not positive: the index returned no true neighbours" % recall,
                                  parameter="recall", expected="> 0", actual=recall, rule_id="5.3.2"))
    if not issues:
        issues.append(ctx.ok("metrics and recall %.4f reported" % recall, parameter="recall", actual=recall))
    return issues


@run_check("5.3.5", "ground truth integrity verdict", benchmarks=V, planned=False)
def check_vdb_ground_truth(ctx):
    run = ctx.run
    verdict = run.vdb_verdict
    if "result_verdict.json" not in run.files:
        return ctx.invalid("result_verdict.json is missing: ground-truth coverage cannot be confirmed",
                           parameter="result_verdict.json", extra={"token": "VERDICT-MISSING"})
    if not isinstance(verdict, dict):
        return None  # unreadable: reported by the loader
    issues = []
    if verdict.get("valid") is False or str(verdict.get("result", "valid")).lower() != "valid":
        issues.append(ctx.invalid("result_verdict.json marks the run invalid: %s" % (verdict.get("reason") or
                                                                                   verdict.get("result")),
                                  parameter="result_verdict.valid", expected=True, actual=verdict.get("valid")))
    flat = verdict.get("flat_setup")
    if isinstance(flat, dict):
        if flat.get("ok") is False:
            issues.append(ctx.invalid("ground-truth (FLAT) setup failed: %s" % (flat.get("reason") or "no reason"),
                                      parameter="flat_setup.ok", expected=True, actual=False))
        coverage = to_number(flat.get("coverage"))
        if coverage is not None and coverage < 1.0:
            issues.append(ctx.invalid("ground truth covers only %.1f%% of the vectors" % (coverage * 100),
                                      parameter="flat_setup.coverage", expected=">= 1.0", actual=coverage))
    else:
        issues.append(ctx.warn("result_verdict.json has no flat_setup block", parameter="flat_setup"))
    if not issues:
        issues.append(ctx.ok("ground truth verified", parameter="result_verdict.json"))
    return issues


@run_check("5.4.1", "storage root and results directory differ", benchmarks=V)
def check_vdb_path_args(ctx):
    run = ctx.run
    if run.data_access_protocol == "object":
        return None
    root = run.args.get("storage_root")
    results = run.args.get("results_dir")
    if not root or not results:
        return ctx.invalid("storage_root/results_dir not recorded; the storage target must be given",
                           parameter="args.storage_root", extra={"token": "UNSET"})
    if str(root).rstrip("/") == str(results).rstrip("/"):
        return ctx.invalid("storage root and results directory are the same (%s)" % root,
                           parameter="args.storage_root", actual=root)
    return ctx.ok("storage root and results directory differ", parameter="args.storage_root")


@run_check("5.4.2", "storage and results on different filesystems", benchmarks=V, planned=False)
def check_vdb_fs_separation(ctx):
    return fs_separation_check(ctx)


def vdb_index_params(run):
    """The recorded index build parameters: our metadata's parameters.index, else the tool's args; {} if none."""
    meta = run.metadata if isinstance(run.metadata, dict) else {}
    index = get_path(meta, "parameters.index")
    if isinstance(index, dict) and index:
        return {k: v for k, v in index.items() if k not in ("index_type", "metric_type")}
    args = run.args if isinstance(run.args, dict) else {}
    params = args.get("index_params")
    return dict(params) if isinstance(params, dict) else {}


@run_check("5.6.4", "index build parameters are ones CLOSED may tune", benchmarks=V, commands=("run", "datagen"))
def check_vdb_index_params(ctx):
    run = ctx.run
    index = vdb_index(run)
    tunable = (ctx.section("vector_database").get("index_build_params") or {}).get(index)
    params = vdb_index_params(run)
    if tunable is None or not params:
        return None  # another index (5.6.3 decides) or nothing recorded (the reference build of the tool's config)
    issues = []
    for key in sorted(params):
        value = to_number(params[key])
        if key not in tunable:
            issues.append(ctx.open("build parameter %s is not a %s parameter CLOSED may tune (%s): OPEN only"
                                   % (key, index, ", ".join(tunable)), parameter="index.%s" % key,
                                   expected=tunable, actual=params[key]))
        elif value is None or value <= 0 or value != int(value):
            issues.append(ctx.invalid("build parameter %s=%r is not a positive whole number" % (key, params[key]),
                                      parameter="index.%s" % key, expected="> 0", actual=params[key]))
    if not issues:
        issues.append(ctx.ok("%s build parameters %s" % (index, ", ".join("%s=%s" % kv for kv in sorted(
            params.items()))), parameter="index"))
    return issues
