# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Checkpointing per-run checks (spec 4.3 - 4.5)."""
from __future__ import annotations

from . import run_check
from .training import _path_args_check, fs_separation_check
from ..util import flatten, get_path, same_value, to_bool, to_int, to_number

C = ("checkpointing",)


def _rules_on(ctx):
    return ctx.section("checkpointing").get("rule_checks", True)


def _spec(ctx):
    return ctx.edition.checkpoint_model(ctx.run.model)


def _counts(run):
    write = to_int(run.param("checkpoint.num_checkpoints_write"))
    read = to_int(run.param("checkpoint.num_checkpoints_read"))
    if write is None:
        write = to_int(run.args.get("num_checkpoints_write"))
    if read is None:
        read = to_int(run.args.get("num_checkpoints_read"))
    return write, read


def _declared_subset(run):
    """The run declares the subset claim (upstream --checkpoint-subset, recorded as args.checkpoint_subset)."""
    return bool(to_bool(run.args.get("checkpoint_subset")))


def _is_subset(run):
    return (str(run.overrides.get("checkpoint.mode", run.param("checkpoint.mode", ""))).lower() == "subset"
            or _declared_subset(run))


@run_check("4.3.3", "model is one of the LLM checkpoint models", benchmarks=C, commands=None)
def check_checkpoint_model(ctx):
    models = sorted((ctx.section("checkpointing").get("models") or {}).keys())
    if ctx.run.model not in models:
        return ctx.invalid("checkpointing model %r is not one of %s" % (ctx.run.model, ", ".join(models)),
                           parameter="model", expected=models, actual=ctx.run.model)
    if not _rules_on(ctx):
        return ctx.ok("edition %s defines no checkpointing rule checks" % ctx.edition.name, parameter="model")
    return ctx.ok("model %s" % ctx.run.model, parameter="model", actual=ctx.run.model)


@run_check("4.6.1", "process count matches the CLOSED table or scales by TPxPP", benchmarks=C)
def check_checkpoint_processes(ctx):
    spec = _spec(ctx)
    if not spec or not _rules_on(ctx):
        return None
    procs = ctx.run.num_processes
    closed_n, tp_pp = spec["closed_processes"], spec["tp_pp"]
    if procs == closed_n:
        return ctx.ok("%d processes = CLOSED count for %s" % (procs, ctx.run.model), parameter="num_processes",
                      expected=closed_n, actual=procs)
    if procs and procs > 0 and procs % tp_pp == 0:
        return ctx.open("%d processes: a multiple of TPxPP=%d qualifies for OPEN only (CLOSED requires %d)"
                        % (procs, tp_pp, closed_n), parameter="num_processes", expected=closed_n, actual=procs,
                        rule_id="4.6.4")
    return ctx.invalid("%s processes: CLOSED requires exactly %d and OPEN a positive multiple of TPxPP=%d"
                       % (procs, closed_n, tp_pp), parameter="num_processes", expected=closed_n, actual=procs)


@run_check("4.6.2", "more than 4 processes per host", benchmarks=C)
def check_checkpoint_procs_per_host(ctx):
    if not _rules_on(ctx) or not ctx.closed_division:
        return None
    run = ctx.run
    limit = ctx.section("checkpointing").get("min_processes_per_host_exclusive", 4)
    hosts = to_int(get_path(run.summary, "num_hosts")) or to_int(get_path(run.system_info, "num_hosts"))
    if not hosts:
        hosts = len(set(str(h).split(":")[0] for h in (run.args.get("hosts") or []))) or None
    procs = to_int(get_path(run.summary, "num_accelerators")) or run.num_processes
    if not hosts or not procs:
        return None
    if procs / hosts <= limit:
        return ctx.invalid("%d processes on %d hosts = %.1f per host; CLOSED requires more than %d per host"
                           % (procs, hosts, procs / hosts, limit), parameter="processes_per_host",
                           expected="> %d" % limit, actual=round(procs / hosts, 2))
    return ctx.ok("%.1f processes per host" % (procs / hosts), parameter="processes_per_host")


@run_check("4.3.4", "aggregate accelerator memory holds the checkpoint", benchmarks=C)
def check_checkpoint_accelerator_memory(ctx):
    spec = _spec(ctx)
    if not spec or not _rules_on(ctx):
        return None
    run = ctx.run
    sec = ctx.section("checkpointing")
    accel = run.accelerator
    if not accel:
        # The run checker is silent for leaves that record no accelerator (quirk 12.8); say so.
        return ctx.warn("no accelerator type recorded; the aggregate accelerator memory check was skipped",
                        parameter="accelerator")
    memory = (sec.get("accelerator_memory_gb") or {}).get(accel)
    allowed = ctx.edition.by_division("checkpointing", "accelerators", ctx.division)
    if memory is None:
        return ctx.invalid("unknown accelerator %r (known: %s)" % (accel, ", ".join(sorted(sec.get(
            "accelerator_memory_gb") or {}))), parameter="accelerator", actual=accel)
    if allowed and accel not in allowed:
        return ctx.invalid("accelerator %s is not allowed in the %s division (allowed: %s)"
                           % (accel, ctx.division, ", ".join(allowed)), parameter="accelerator",
                           expected=allowed, actual=accel)
    procs = run.num_processes or 0
    size = spec.get("checkpoint_size_gb")
    if procs * memory < size:
        return ctx.invalid("%d x %s (%d GB) = %d GB of accelerator memory cannot hold the %d GB %s checkpoint"
                           % (procs, accel, memory, procs * memory, size, run.model),
                           parameter="num_processes", expected=">= %d GB" % size, actual=procs * memory)
    return ctx.ok("%d GB accelerator memory >= %d GB checkpoint" % (procs * memory, size), parameter="accelerator")


@run_check("4.3.5", "subset mode only in the edition's subset form (llama3-8b on 8 processes)", benchmarks=C)
def check_checkpoint_subset(ctx):
    """CLOSED: any subset run (checkpoint.mode subset or the declared flag) must be the edition's subset form. In
    the other divisions only the declared flag must be (upstream refuses the flag otherwise); a run below the full
    count there is judged by its process count (4.6.4)."""
    run = ctx.run
    if not _rules_on(ctx) or not _is_subset(run):
        return None
    declared = _declared_subset(run)
    if not ctx.closed_division and not declared:
        return None
    sec = ctx.section("checkpointing")
    allowed = sec.get("subset_models") or []
    procs = sec.get("subset_processes")
    if run.model in allowed and run.num_processes == procs:
        return ctx.ok("subset run of %s on %s processes" % (run.model, procs), parameter="checkpoint.mode")
    what = "a declared subset run (args.checkpoint_subset)" if declared else "subset checkpointing"
    return ctx.invalid("%s is only valid for %s on exactly %s processes (got %s on %s)"
                       % (what, ", ".join(allowed) or "no model", procs, run.model, run.num_processes),
                       parameter="checkpoint.mode", expected="%s on %s processes" % (" or ".join(allowed), procs),
                       actual="subset")


@run_check("4.3.2", "checkpoints are fsynced", benchmarks=C)
def check_checkpoint_fsync(ctx):
    if not _rules_on(ctx):
        return None
    value = ctx.run.param("checkpoint.fsync")
    if to_bool(value):
        return ctx.ok("checkpoint.fsync true", parameter="checkpoint.fsync", actual=value)
    return ctx.invalid("checkpoint.fsync must be true so every checkpoint reaches storage",
                       parameter="checkpoint.fsync", expected=True, actual=value)


@run_check("4.6.3", "checkpoint parameters equal the reference workload", benchmarks=C)
def check_checkpoint_parameters(ctx):
    spec = _spec(ctx)
    if not spec or not _rules_on(ctx) or not spec.get("reference"):
        return None
    run = ctx.run
    sec = ctx.section("checkpointing")
    issues = []
    reference = flatten(spec["reference"])
    for key, expected in sorted(reference.items()):
        actual = run.param(key)
        if not same_value(actual, expected):
            issues.append(ctx.open("%s=%r differs from the %s reference (%r): OPEN division only"
                                   % (key, actual, run.model, expected), parameter=key, expected=expected,
                                   actual=actual))
    allowed = set(sec.get("closed_overrides") or []) | set(sec.get("tool_injected") or [])
    for key in sorted(run.overrides or {}):
        if key in allowed:
            continue
        if key == "checkpoint.mode" or key == "model.parallelism.data":
            continue  # reported by the subset check
        issues.append(ctx.open("parameter override %s is not CLOSED-tunable (only %s): OPEN division only"
                               % (key, ", ".join(sorted(sec.get("closed_overrides") or []))),
                               parameter=key, actual=run.overrides[key]))
    write, read = _counts(run)
    counts = sec.get("closed_checkpoint_counts") or []
    for name, value in (("checkpoint.num_checkpoints_write", write), ("checkpoint.num_checkpoints_read", read)):
        if value is None:
            issues.append(ctx.invalid("%s is not recorded" % name, parameter=name))
        elif counts and value not in counts:
            issues.append(ctx.open("%s=%d: CLOSED allows only %s" % (name, value, " or ".join(map(str, counts))),
                                   parameter=name, expected=counts, actual=value))
    if not issues:
        issues.append(ctx.ok("checkpoint parameters equal the %s reference" % run.model))
    return issues


@run_check("RUN-CKPT-METRICS", "summary holds the metrics of each phase run", benchmarks=C, planned=False)
def check_checkpoint_metrics(ctx):
    run = ctx.run
    if not isinstance(run.summary, dict):
        return None
    write, read = _counts(run)
    issues = []
    metric = run.metric
    for phase, count, prefix in (("write", write, "save"), ("read", read, "load")):
        if count:
            for suffix in ("io_mean_GB_per_second", "duration_mean_seconds"):
                key = "%s_checkpoint_%s" % (prefix, suffix)
                if to_number(metric.get(key)) is None:
                    issues.append(ctx.invalid("the %s phase ran %d checkpoints but summary metric %s is missing"
                                              % (phase, count, key), parameter="metric.%s" % key))
    if not write and not read:
        issues.append(ctx.invalid("the run neither writes nor reads checkpoints", parameter="num_checkpoints"))
    spec = _spec(ctx)
    size = to_number(metric.get("checkpoint_size_GB"))
    if spec and size and not _is_subset(run):
        tol = ctx.section("checkpointing").get("size_tolerance", 0.03)
        ref = spec.get("checkpoint_size_gb")
        if ref and abs(size - ref) / ref > tol:
            issues.append(ctx.warn("checkpoint_size_GB %.1f differs from the %s table value %s by more than %d%%"
                                   % (size, run.model, ref, round(tol * 100)), parameter="metric.checkpoint_size_GB",
                                   expected=ref, actual=round(size, 3)))
    return issues


@run_check("4.3.1", "checkpoint data per host exceeds 3x host memory", benchmarks=C, planned=False)
def check_checkpoint_data_ratio(ctx):
    run = ctx.run
    if not _rules_on(ctx) or not isinstance(run.summary, dict):
        return None
    size = to_number(run.metric.get("checkpoint_size_GB"))
    hm = run.summary.get("host_memory_GB")
    hosts = to_int(run.summary.get("num_hosts")) or 1
    if not size or not isinstance(hm, list) or not hm:
        return None
    per_host_mem = sum(hm) / hosts
    per_host_data = size / hosts
    if per_host_data < 3 * per_host_mem:
        return ctx.warn("each host writes %.1f GiB of checkpoint but has %.1f GiB of memory; below 3x memory, "
                        "caches must be cleared between the write and read phases" % (per_host_data, per_host_mem),
                        parameter="metric.checkpoint_size_GB", expected=">= %.1f" % (3 * per_host_mem),
                        actual=round(per_host_data, 2))
    return None


@run_check("4.4.1", "checkpoint folder and results directory differ", benchmarks=C)
def check_checkpoint_path_args(ctx):
    if not _rules_on(ctx):
        return None
    return _path_args_check(ctx, "checkpoint_folder", "checkpoint")


@run_check("4.4.2", "checkpoint and results on different filesystems", benchmarks=C, planned=False)
def check_checkpoint_fs_separation(ctx):
    if not _rules_on(ctx):
        return None
    return fs_separation_check(ctx)
