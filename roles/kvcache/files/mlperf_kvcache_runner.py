#!/usr/bin/env python3
# -*- coding: utf-8 -*-
# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One KV-cache run leaf: the option/trial sequence of the kv-cache program, then the run-level aggregation.

Runs on the launcher as the single engine process of the leaf (so the leaf gets one telemetry window, one
heartbeat, one status), standard library only. ``run`` executes the MPI invocations of a spec written by the
kvcache role, in order, each with its own stdout/stderr log, sleeping the inter-option delay between options,
then aggregates the per-rank result files (rules.md §5.3) into:

  summary.json / kvcache_run_summary.json   per option: sums over ranks, means over trials, max of P95
  results.json                               the headline row of every option
  option_<O>_results.json                    every trial and rank of one option

``aggregate`` redoes the aggregation of an existing leaf. Exit status: 0 when every invocation exited 0 and
every rank wrote its result file, 1 otherwise (the leaf and its summary are kept either way), 2 on a bad spec.
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import subprocess
import sys
import time

SCHEMA_VERSION = "1.0"
RUN_DIR_TOKEN = "@RUN_DIR@"
PROGRESS_LOG = "kvcache_progress.log"

# per-rank result field -> where it is in kvcache_results_*.json
RANK_FIELDS = {
    "read_bandwidth_gbps": ("summary", "cache_stats", "tier_storage_read_bandwidth_gbps"),
    "write_bandwidth_gbps": ("summary", "cache_stats", "tier_storage_write_bandwidth_gbps"),
    "device_read_p95_ms": ("summary", "cache_stats", "storage_read_device_p95_ms"),
    "device_write_p95_ms": ("summary", "cache_stats", "storage_write_device_p95_ms"),
    "storage_entries": ("summary", "cache_stats", "storage_entries"),
    "storage_throughput_tokens_per_sec": ("summary", "storage_throughput_tokens_per_sec"),
    "avg_throughput_tokens_per_sec": ("summary", "avg_throughput_tokens_per_sec"),
    "p95_latency_ms": ("summary", "storage_io_latency_ms", "p95"),
}
# summed over the ranks of a trial, then averaged over trials
SUMMED = (("aggregated_read_bandwidth_gbps", "read_bandwidth_gbps"),
          ("aggregated_write_bandwidth_gbps", "write_bandwidth_gbps"),
          ("aggregated_avg_throughput_tokens_per_sec", "avg_throughput_tokens_per_sec"),
          ("aggregated_storage_throughput_tokens_per_sec", "storage_throughput_tokens_per_sec"))
# maximum over every rank of every trial (a per-rank P95 is not poolable)
MAXED = (("aggregated_p95_latency_ms", "p95_latency_ms"),
         ("aggregated_device_read_p95_ms", "device_read_p95_ms"),
         ("aggregated_device_write_p95_ms", "device_write_p95_ms"))


class SpecError(ValueError):
    """A runner spec that cannot be executed; the message says which field and why."""


def _number(value):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def rank_metrics(doc):
    """The fields the aggregation uses from one per-rank result document (missing ones are None)."""
    out = {}
    for name, path in RANK_FIELDS.items():
        value = doc
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        out[name] = _number(value)
    return out


def aggregate_option(option, trials, total_ranks):
    """Aggregate one option. ``trials``: {trial: {rank: metrics dict, or None when its file is missing}}.

    Ranks served entirely from the CPU tier (storage_entries == 0) contribute 0 to the sums and are listed in
    cpu_tier_ranks; a missing rank file makes the option a partial failure (its sums cover the others).
    """
    per_trial = {name: [] for name, _ in SUMMED}
    maxima = {name: None for name, _ in MAXED}
    missing, cpu_ranks = [], set()
    for trial in sorted(trials, key=int):
        ranks = trials[trial]
        sums = {name: 0.0 for name, _ in SUMMED}
        for rank in range(total_ranks):
            metrics = ranks.get(rank)
            if metrics is None:
                missing.append("option_%s/trial_%s/rank_%d" % (option, trial, rank))
                continue
            if metrics.get("storage_entries") == 0:
                cpu_ranks.add(rank)
                continue
            for name, field in SUMMED:
                sums[name] += metrics.get(field) or 0.0
            for name, field in MAXED:
                value = metrics.get(field)
                if value is not None and (maxima[name] is None or value > maxima[name]):
                    maxima[name] = value
        for name in sums:
            per_trial[name].append(sums[name])
    result = {"option": int(option) if str(option).isdigit() else option}
    for name, _ in SUMMED:
        values = per_trial[name]
        result[name] = sum(values) / len(values) if values else None
    result.update(maxima)
    result.update(rank_count=total_ranks, trial_count=len(trials), partial_failure=bool(missing),
                  missing_files=missing, cpu_tier_ranks=sorted(cpu_ranks))
    return result


def summarize(run_datetime, options, total_ranks, npernode, host_count, trials_per_option, trial_failures):
    """The run-level summary (summary.json / kvcache_run_summary.json)."""
    return {
        "schema_version": SCHEMA_VERSION,
        "run_datetime": run_datetime,
        "npernode": npernode,
        "host_count": host_count,
        "total_ranks": total_ranks,
        "trials_per_option": trials_per_option,
        "options": {str(o["option"]): o for o in options},
        "partial_failure": any(o["partial_failure"] for o in options),
        "trial_failures": dict(trial_failures),
    }


def headline(summary):
    """results.json: one row per option (read B/W, device P95s, storage tokens/s, ranks)."""
    rows = []
    for key in sorted(summary["options"], key=lambda k: int(k) if k.isdigit() else k):
        opt = summary["options"][key]
        rows.append({"option": opt["option"], "read_bandwidth_gbps": opt["aggregated_read_bandwidth_gbps"],
                     "write_bandwidth_gbps": opt["aggregated_write_bandwidth_gbps"],
                     "device_read_p95_ms": opt["aggregated_device_read_p95_ms"],
                     "device_write_p95_ms": opt["aggregated_device_write_p95_ms"],
                     "storage_throughput_tokens_per_sec": opt["aggregated_storage_throughput_tokens_per_sec"],
                     "total_ranks": summary["total_ranks"], "partial_failure": opt["partial_failure"]})
    return rows


# ----------------------------------------------------------------------------------------------- files
def read_rank_file(rank_dir):
    """(metrics, error): the newest kvcache_results_*.json of a rank directory."""
    found = sorted(glob.glob(os.path.join(rank_dir, "kvcache_results_*.json")))
    if not found:
        return None, "no kvcache_results_*.json"
    try:
        with open(found[-1], "r", encoding="utf-8") as handle:
            doc = json.load(handle)
    except (OSError, ValueError) as exc:
        return None, "%s: %s" % (os.path.basename(found[-1]), exc)
    if not isinstance(doc, dict):
        return None, "%s holds no JSON object" % os.path.basename(found[-1])
    return rank_metrics(doc), None


def collect_option(run_dir, option, trials, total_ranks):
    """{trial: {rank: metrics or None}} read from <run_dir>/option_<O>/trial_<T>/rank_<N>/."""
    out = {}
    for trial in range(trials):
        ranks = {}
        for rank in range(total_ranks):
            metrics, _error = read_rank_file(os.path.join(run_dir, "option_%s" % option, "trial_%d" % trial,
                                                          "rank_%d" % rank))
            ranks[rank] = metrics
        out[trial] = ranks
    return out


def option_detail(run_dir, option, trials, total_ranks):
    """option_<O>_results.json: every trial and rank of one option, with the reason for a missing rank."""
    detail = {"option": int(option) if str(option).isdigit() else option, "trials": []}
    for trial in range(trials):
        ranks = []
        for rank in range(total_ranks):
            metrics, error = read_rank_file(os.path.join(run_dir, "option_%s" % option, "trial_%d" % trial,
                                                         "rank_%d" % rank))
            ranks.append(dict(rank=rank, error=error, **(metrics or {})))
        detail["trials"].append({"trial": trial, "ranks": ranks})
    return detail


def write_json(path, data):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2)
        handle.write("\n")
    os.replace(tmp, path)


def aggregate_run(run_dir, options, trials, total_ranks, npernode, host_count, trial_failures=None):
    """Aggregate a leaf and write its summary files; returns the summary."""
    run_dir = os.path.abspath(run_dir)
    aggregated = [aggregate_option(o, collect_option(run_dir, o, trials, total_ranks), total_ranks) for o in options]
    summary = summarize(os.path.basename(run_dir), aggregated, total_ranks, npernode, host_count, trials,
                        trial_failures or {})
    write_json(os.path.join(run_dir, "summary.json"), summary)
    write_json(os.path.join(run_dir, "kvcache_run_summary.json"), summary)
    write_json(os.path.join(run_dir, "results.json"), headline(summary))
    for option in options:
        write_json(os.path.join(run_dir, "option_%s_results.json" % option),
                   option_detail(run_dir, option, trials, total_ranks))
    return summary


# ----------------------------------------------------------------------------------------------- sequence
def load_spec(text):
    """Parse and check the spec the kvcache role writes (JSON)."""
    try:
        spec = json.loads(text)
    except ValueError as exc:
        raise SpecError("the runner spec is not valid JSON: %s" % exc)
    if not isinstance(spec, dict):
        raise SpecError("the runner spec must be a JSON object")
    for key, kind in (("steps", list), ("options", list), ("trials", int), ("total_ranks", int),
                      ("inter_option_delay", (int, float))):
        if not isinstance(spec.get(key), kind) or isinstance(spec.get(key), bool):
            raise SpecError("runner spec field %r is missing or not a %s" % (key, getattr(kind, "__name__", kind)))
    for number, step in enumerate(spec["steps"]):
        if not isinstance(step, dict) or not isinstance(step.get("argv"), list) or not step["argv"] \
                or not all(isinstance(a, str) for a in step["argv"]) or "option" not in step or "trial" not in step:
            raise SpecError("runner spec step %d needs option, trial and a non-empty argv list of strings" % number)
    return spec


def _progress(run_dir, text):
    line = "%s %s\n" % (time.strftime("%Y-%m-%dT%H:%M:%S"), text)
    with open(os.path.join(run_dir, PROGRESS_LOG), "a", encoding="utf-8") as handle:
        handle.write(line)


def run_sequence(spec, run_dir, sleep=time.sleep):
    """Run every step in order (the inter-option delay between options), then aggregate. Returns the exit status."""
    run_dir = os.path.abspath(run_dir)
    stamp = os.path.basename(run_dir)
    failures = {}
    previous = None
    for step in spec["steps"]:
        option, trial = str(step["option"]), int(step["trial"])
        if previous is not None and option != previous and spec["inter_option_delay"] > 0:
            _progress(run_dir, "waiting %s s before option %s" % (spec["inter_option_delay"], option))
            sleep(spec["inter_option_delay"])
        previous = option
        os.makedirs(os.path.join(run_dir, "option_%s" % option, "trial_%d" % trial), exist_ok=True)
        argv = [a.replace(RUN_DIR_TOKEN, run_dir) for a in step["argv"]]
        base = os.path.join(run_dir, "kvcache_opt%s_trial%d_%s" % (option, trial, stamp))
        _progress(run_dir, "option %s trial %d/%d started" % (option, trial + 1, spec["trials"]))
        with open(base + ".stdout.log", "wb") as out, open(base + ".stderr.log", "wb") as err:
            try:
                rc = subprocess.call(argv, stdout=out, stderr=err, cwd=run_dir)
            except OSError as exc:
                err.write(("mlperf_kvcache_runner: cannot start %s: %s\n" % (argv[0], exc)).encode("utf-8"))
                rc = 127
        _progress(run_dir, "option %s trial %d/%d ended with exit code %d" % (option, trial + 1, spec["trials"], rc))
        if rc != 0:
            failures["option_%s/trial_%d" % (option, trial)] = rc
    summary = aggregate_run(run_dir, [str(o) for o in spec["options"]], spec["trials"], spec["total_ranks"],
                            spec.get("npernode"), spec.get("host_count"), failures)
    _progress(run_dir, "aggregated %d option(s): %s" % (len(summary["options"]), "partial failure"
                                                         if summary["partial_failure"] else "all ranks reported"))
    return 1 if failures or summary["partial_failure"] else 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="mlperf_kvcache_runner", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="action", required=True)
    run = sub.add_parser("run", help="run the option/trial sequence of a spec, then aggregate")
    run.add_argument("--spec", required=True, help="JSON spec written by the kvcache role")
    run.add_argument("--run-dir", required=True, help="the run leaf (replaces @RUN_DIR@ in the spec)")
    agg = sub.add_parser("aggregate", help="aggregate the rank files of an existing leaf")
    agg.add_argument("--run-dir", required=True)
    agg.add_argument("--options", default="1,2,3")
    agg.add_argument("--trials", type=int, required=True)
    agg.add_argument("--ranks", type=int, required=True)
    agg.add_argument("--npernode", type=int)
    agg.add_argument("--hosts", type=int)
    args = parser.parse_args(argv)
    if args.action == "aggregate":
        summary = aggregate_run(args.run_dir, args.options.split(","), args.trials, args.ranks, args.npernode,
                                args.hosts)
        return 1 if summary["partial_failure"] else 0
    try:
        with open(args.spec, "r", encoding="utf-8") as handle:
            spec = load_spec(handle.read())
    except (OSError, SpecError) as exc:
        sys.stderr.write("mlperf_kvcache_runner: error: %s\n" % exc)
        return 2
    if not os.path.isdir(args.run_dir):
        sys.stderr.write("mlperf_kvcache_runner: error: run directory %s does not exist\n" % args.run_dir)
        return 2
    return run_sequence(spec, args.run_dir)


if __name__ == "__main__":
    sys.exit(main())
