# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Submission-level checks: one group = the runs of one (division, org, system, benchmark, model)."""
from __future__ import annotations

from . import group_check
from .checkpointing import _counts
from .vector_db import vdb_field
from ..util import get_path, to_int, to_number

MEASURED = ("run", "run_benchmark")


def _measured(group):
    return sorted((r for r in group.runs if r.command in MEASURED), key=_run_sort_key)


def _phase(group, command):
    return sorted((r for r in group.runs if r.command == command), key=_run_sort_key)


def _run_sort_key(run):
    return (run.run_datetime or "", run.rel_path or "")


def _short_reason(run):
    for issue in run.result_issues:
        if issue.validation == run.verdict:
            return issue.message
    return ""


@group_check("SUB-RUNS", "every run of the result is valid")
def check_runs_verdicts(ctx):
    issues = []
    for run in sorted(ctx.group.runs, key=_run_sort_key):
        if run.verdict == "CLOSED":
            continue
        reason = _short_reason(run)
        make = ctx.invalid if run.verdict == "INVALID" else ctx.open
        issues.append(make("%s %s is %s: %s" % (run.command or "run", run.run_datetime or run.rel_path, run.verdict,
                                                 reason), parameter=run.rel_path, actual=run.verdict))
    if not issues:
        issues.append(ctx.ok("all %d runs are CLOSED" % len(ctx.group.runs)))
    return issues


@group_check("DIV-02", "results filed under closed/ qualify for CLOSED")
def check_division_placement(ctx):
    if ctx.group.division != "closed":
        return None
    opens = [r for r in ctx.group.runs if r.verdict == "OPEN"]
    if opens:
        return ctx.open("%d run(s) filed under closed/ qualify for OPEN only; move the result to open/ or fix "
                        "the parameters" % len(opens), parameter="division", expected="closed", actual="open")
    return None


# --- training ---------------------------------------------------------------------------------
@group_check("2.1.17", "training result has the required number of runs", benchmarks=("training",))
def check_training_run_count(ctx):
    sec = ctx.section("training")
    need = sec.get("runs_per_result", 6)
    rule = sec.get("run_count_rule", "exact")
    runs = _measured(ctx.group)
    n = len(runs)
    ok = n == need if rule == "exact" else n >= need
    if not ok:
        warm = sec.get("warmup_runs", 0)
        detail = " (%d warm-up + %d measured)" % (warm, need - warm) if warm else ""
        return ctx.invalid("%d training run(s) found; edition %s requires %s %d%s consecutive runs"
                           % (n, ctx.edition.name, "exactly" if rule == "exact" else "at least", need, detail),
                           parameter="runs", expected=need, actual=n)
    return ctx.ok("%d runs" % n, parameter="runs", expected=need, actual=n)


@group_check("2.1.18", "training runs are consecutive", benchmarks=("training",))
def check_training_gaps(ctx):
    runs = _measured(ctx.group)
    if len(runs) < 2:
        return None
    factor = ctx.section("training").get("max_gap_factor", 2)
    durations = [r.duration_s for r in runs if r.duration_s]
    if not durations:
        return ctx.warn("run durations unknown; consecutiveness not checked", parameter="runs")
    limit = factor * min(durations)
    issues = []
    for prev, cur in zip(runs, runs[1:]):
        a, b = prev.start_time, cur.start_time
        if not a or not b:
            continue
        gap = (b - a).total_seconds()
        if gap > limit:
            issues.append(ctx.invalid("runs %s and %s are %.0f s apart, more than %s x the shortest run (%.0f s): "
                                      "the runs are not consecutive (a run is missing or was dropped)"
                                      % (prev.run_datetime, cur.run_datetime, gap, factor, limit / factor),
                                      parameter="runs", expected="< %.0f s" % limit, actual=round(gap)))
    if not issues:
        issues.append(ctx.ok("runs are consecutive", parameter="runs"))
    return issues


@group_check("2.1.9", "runs of one result use one configuration", benchmarks=("training", "checkpointing"))
def check_consistent_config(ctx):
    runs = _measured(ctx.group)
    issues = []
    fields = (("accelerator", lambda r: r.accelerator), ("num_processes", lambda r: r.num_processes))
    if ctx.group.benchmark == "training":
        fields += (("dataset.num_files_train", lambda r: to_int(r.param("dataset.num_files_train"))),)
    for name, getter in fields:
        values = sorted(set(str(getter(r)) for r in runs))
        if len(values) > 1:
            issues.append(ctx.invalid("the runs of one result differ in %s (%s); all runs must use one "
                                      "configuration" % (name, ", ".join(values)), parameter=name, actual=values))
    return issues


@group_check("2.1.13", "exactly one datagen leaf", benchmarks=("training",))
def check_training_datagen_present(ctx):
    datagen = _phase(ctx.group, "datagen")
    if len(datagen) == 1:
        return ctx.ok("datagen leaf present", parameter="datagen")
    if not datagen:
        return ctx.invalid("no datagen leaf: the dataset generation is not documented", parameter="datagen",
                           expected=1, actual=0)
    return ctx.invalid("%d datagen leaves; a result uses exactly one generated dataset" % len(datagen),
                       parameter="datagen", expected=1, actual=len(datagen))


@group_check("2.1.12", "datasize phase present", benchmarks=("training",))
def check_training_datasize_present(ctx):
    absent = ctx.edition.not_required(ctx, "datasize_leaf", parameter="datasize")
    if absent is not None:
        return absent
    if _phase(ctx.group, "datasize"):
        return ctx.ok("datasize leaf present", parameter="datasize")
    return ctx.invalid("no datasize leaf: the dataset-size calculation is not documented", parameter="datasize")


def _dataset_bytes(run):
    files = to_int(run.param("dataset.num_files_train"))
    spf = to_int(run.param("dataset.num_samples_per_file")) or 1
    rec = to_number(run.param("dataset.record_length_bytes"))
    if files is None or not rec:
        return None
    return files * spf * rec


@group_check("3.2.1", "the generated dataset is at least the size the runs read", benchmarks=("training",))
def check_datagen_size(ctx):
    datagen = _phase(ctx.group, "datagen")
    runs = _measured(ctx.group)
    if len(datagen) != 1 or not runs:
        return None
    gen = _dataset_bytes(datagen[0])
    need = max((_dataset_bytes(r) or 0) for r in runs)
    if gen is None:
        return ctx.invalid("the datagen leaf does not record num_files_train and record_length_bytes",
                           parameter="datagen.dataset.num_files_train")
    if gen < need:
        return ctx.invalid("the generated dataset (%d files) is smaller than what the runs read (%d files)"
                           % (to_int(datagen[0].param("dataset.num_files_train")),
                              max(to_int(r.param("dataset.num_files_train")) or 0 for r in runs)),
                           parameter="dataset.num_files_train", expected=">= run", actual=gen)
    return ctx.ok("generated dataset covers the runs", parameter="dataset.num_files_train")


@group_check("3.3.1", "datasize <= run <= datagen file counts", benchmarks=("training",))
def check_datasize_run_datagen(ctx):
    runs = _measured(ctx.group)
    datagen = _phase(ctx.group, "datagen")
    datasize = _phase(ctx.group, "datasize")
    issues = []
    if not runs:
        return None
    run_files = [to_int(r.param("dataset.num_files_train")) for r in runs]
    if datasize:
        data_dir = runs[0].args.get("data_dir")
        paired = [d for d in datasize if d.args.get("data_dir") in (None, "", data_dir)]
        if len(datasize) > 1 and len(paired) != 1:
            issues.append(ctx.invalid("DATADIR-MISMATCH: %d datasize leaves and none pairs uniquely with the runs' "
                                      "data_dir %s" % (len(datasize), data_dir), parameter="args.data_dir"))
        pick = paired[-1] if paired else datasize[-1]
        if pick.args.get("data_dir") not in (None, "", data_dir):
            issues.append(ctx.invalid("DATADIR-MISMATCH: datasize was computed for %s, the runs read %s"
                                      % (pick.args.get("data_dir"), data_dir), parameter="args.data_dir",
                                      expected=data_dir, actual=pick.args.get("data_dir")))
        size_files = to_int(pick.param("dataset.num_files_train"))
        if size_files is not None:
            low = [f for f in run_files if f is not None and f < size_files]
            if low:
                issues.append(ctx.invalid("DATASIZE-UNDERRUN: runs use %d files, datasize computed %d"
                                          % (min(low), size_files), parameter="dataset.num_files_train",
                                          expected=">= %d" % size_files, actual=min(low)))
    if len(datagen) == 1:
        gen_files = to_int(datagen[0].param("dataset.num_files_train"))
        if gen_files is not None:
            high = [f for f in run_files if f is not None and f > gen_files]
            if high:
                issues.append(ctx.invalid("DATAGEN-OVERRUN: runs use %d files, datagen generated %d"
                                          % (max(high), gen_files), parameter="dataset.num_files_train",
                                          expected="<= %d" % gen_files, actual=max(high)))
        gen_sub = to_int(datagen[0].param("dataset.num_subfolders_train")) or 0
        for r in runs:
            sub = to_int(r.param("dataset.num_subfolders_train")) or 0
            if sub != gen_sub:
                issues.append(ctx.invalid("run %s reads %d subfolders, datagen generated %d"
                                          % (r.run_datetime, sub, gen_sub), parameter="dataset.num_subfolders_train",
                                          expected=gen_sub, actual=sub))
                break
    if not issues:
        issues.append(ctx.ok("datasize <= run <= datagen"))
    return issues


# --- checkpointing ----------------------------------------------------------------------------
@group_check("4.7.1", "checkpoint write/read structure, totals and gap", benchmarks=("checkpointing",))
def check_checkpoint_structure(ctx):
    sec = ctx.section("checkpointing")
    if not sec.get("rule_checks", True):
        return None
    runs = _measured(ctx.group)
    need = sec.get("checkpoints_per_phase", 10)
    issues = []
    if not runs:
        return ctx.invalid("no checkpointing run", parameter="runs")
    if len(runs) > sec.get("runs_per_result", 2):
        issues.append(ctx.invalid("%d checkpointing invocations; a result is one combined run or one write run "
                                  "followed by one read run" % len(runs), parameter="runs",
                                  expected="1 or 2", actual=len(runs)))
    counts = [_counts(r) for r in runs]
    writes = sum(w or 0 for w, _ in counts)
    reads = sum(r or 0 for _, r in counts)
    if (writes != need or reads != need) and ctx.closed_division:
        issues.append(ctx.invalid("the result holds %d checkpoint writes and %d reads; exactly %d of each are "
                                  "required" % (writes, reads, need), parameter="num_checkpoints",
                                  expected="%d/%d" % (need, need), actual="%d/%d" % (writes, reads),
                                  rule_id="4.6-TOTAL"))
    elif writes != need or reads != need:  # rules Table 3: OPEN may change the counts (run checks say OPEN)
        issues.append(ctx.open("the result holds %d checkpoint writes and %d reads; CLOSED has exactly %d of each"
                               % (writes, reads, need), parameter="num_checkpoints",
                               expected="%d/%d" % (need, need), actual="%d/%d" % (writes, reads),
                               rule_id="4.6-TOTAL"))
    if len(runs) == 2:
        (w1, r1), (w2, r2) = counts
        if not (w1 and not r1 and r2 and not w2):
            issues.append(ctx.invalid("a split result must be a write-only run followed by a read-only run "
                                      "(got %s/%s then %s/%s)" % (w1, r1, w2, r2), parameter="runs"))
        else:
            write_end = runs[0].invocation_end
            read_start = runs[1].invocation_start
            if write_end and read_start:
                gap = (read_start - write_end).total_seconds()
                limit = sec.get("max_phase_gap_s", 30)
                if gap < 0:
                    issues.append(ctx.warn("the read phase starts %.1f s before the write phase ended: clocks "
                                           "disagree between the two invocations" % -gap, parameter="gap_s",
                                           actual=round(gap, 1)))
                elif gap > limit:
                    issues.append(ctx.invalid("%.1f s between the end of the write phase and the start of the read "
                                              "phase; at most %d s are allowed" % (gap, limit), parameter="gap_s",
                                              expected="<= %d" % limit, actual=round(gap, 1),
                                              extra={"token": "GAP"}))
                else:
                    issues.append(ctx.ok("%.1f s between write and read phases" % gap, parameter="gap_s",
                                         actual=round(gap, 1)))
            else:
                issues.append(ctx.invalid("invocation timestamps are missing; the write/read gap cannot be "
                                          "computed", parameter="gap_s", rule_id="4.7.2"))
    if not issues:
        issues.append(ctx.ok("%d writes and %d reads" % (writes, reads), parameter="num_checkpoints"))
    return issues


# --- vector database --------------------------------------------------------------------------
@group_check("5.3.1", "vector database result has the required number of runs", benchmarks=("vector_database",))
def check_vdb_run_count(ctx):
    need = ctx.section("vector_database").get("runs_per_result", 5)
    n = len(_measured(ctx.group))
    if n != need:
        return ctx.invalid("%d run(s) found; exactly %d are required" % (n, need), parameter="runs",
                           expected=need, actual=n)
    return ctx.ok("%d runs" % n, parameter="runs", actual=n)


@group_check("5.1.2", "datagen and runs agree on dimension and index", benchmarks=("vector_database",))
def check_vdb_datagen(ctx):
    datagen = _phase(ctx.group, "datagen")
    runs = _measured(ctx.group)
    if not runs:
        return None
    if not datagen:
        return ctx.invalid("no datagen leaf: the loaded collection is not documented", parameter="datagen")
    gen = datagen[-1]
    issues = []
    dim = to_int(vdb_field(gen, "dimension"))
    idx = str(vdb_field(gen, "index_type") or vdb_field(gen, "vdb_index") or "").upper()
    for r in runs:
        rdim = to_int(vdb_field(r, "vector_dim")) or to_int(get_path(r.vdb_config, "vector_dim"))
        if dim and rdim and dim != rdim:
            issues.append(ctx.invalid("run %s queries %d-d vectors, the collection holds %d-d"
                                      % (r.run_datetime, rdim, dim), parameter="dimension", expected=dim,
                                      actual=rdim))
        ridx = str(vdb_field(r, "vdb_index") or vdb_field(r, "index_type") or "").upper()
        if idx and ridx and idx != ridx:
            issues.append(ctx.invalid("run %s uses index %s, the collection was built with %s"
                                      % (r.run_datetime, ridx, idx), parameter="index_type", expected=idx,
                                      actual=ridx, rule_id="5.2.2"))
    if not issues:
        issues.append(ctx.ok("dimension %s, index %s" % (dim, idx or "-")))
    return issues


# --- kv cache ---------------------------------------------------------------------------------
@group_check("6.3.5", "one KV-cache run per result", benchmarks=("kv_cache",))
def check_kv_run_count(ctx):
    runs = _measured(ctx.group)
    need = ctx.section("kv_cache").get("runs_per_result", 1)
    if not runs:
        return ctx.invalid("no KV-cache run", parameter="runs")
    if len(runs) > need:
        chosen = ctx.group.primary_run
        return ctx.warn("%d runs under one result; only one publishes (chosen: the latest valid, %s)"
                        % (len(runs), chosen.run_datetime if chosen else "none"), parameter="runs",
                        expected=need, actual=len(runs))
    return ctx.ok("%d run" % len(runs), parameter="runs")
