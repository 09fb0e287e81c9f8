#!/usr/bin/env python3
# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Idle engine time between consecutive runs: one run set through the playbook vs the same runs by hand.

Uses the embedded inventory's sizing (inventories/local) in a scratch results/data tree. The dataset is generated
once first (not measured, one run, into another results tree); then, with the dataset reused:
  - playbook:  ansible-playbook run_training.yml -e mlperf_runs=N (preflight, plan, N runs, collect, verify)
  - by hand:   the executed_argv recorded in the first run's metadata, run N times back to back
From the N runs' metadata (invocation_start_time / invocation_end_time, written from each run's engine status)
it prints the idle engine time between consecutive runs (engine end of run k -> engine start of run k+1), the
wall times and what the verifier said about rule 2.1.18 (training runs are consecutive).

--quick shrinks each run (16 files, 1 epoch) so that the fixed cost dominates: a smoke run, not the embedded sizing.

Needs the provisioned embedded environment (line 1 of the README, or playbooks/provision.yml).
--compare runs the same invocation again with training_run_set=false (one run_phase per run, the flow before run
sets) and prints its gaps and wall time beside the run set's, measured side by side in one bench run.

Usage: .venv/bin/python bench/run_gap.py [--runs N] [--quick] [--compare] [--extra KEY=VALUE ...]
"""
import argparse
import glob
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime

# the scratch tree, the embedded sizing and the playbook runner are the overhead bench's
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _targets import target_line  # noqa: E402
from training_overhead import QUICK_PARAMS, VENV, playbook  # noqa: E402


def run_metadata(tree):
    """Every training run's metadata under the tree, oldest first (run directories are named by timestamp);
    only directories holding a run's metadata count, not the files the verifier writes beside them."""
    metas = glob.glob(os.path.join(tree, "results", "*", "*", "results", "*", "training", "*", "run", "*",
                                   "training_*_metadata.json"))
    found = []
    for path in sorted(metas, key=lambda p: os.path.basename(os.path.dirname(p))):
        with open(path) as handle:
            found.append(json.load(handle))
    return found


def gaps_of(metas):
    """Seconds from the engine end of each run to the engine start of the next."""
    times = [(datetime.fromisoformat(m["invocation_start_time"]), datetime.fromisoformat(m["invocation_end_time"]))
             for m in metas]
    return [(b[0] - a[1]).total_seconds() for a, b in zip(times, times[1:])]


def rule_issues(tree, rule_id):
    """(validation, message) of every issue of ``rule_id`` in the verifier's JSON output under the tree."""
    found = set()

    def walk(node):
        if isinstance(node, dict):
            if node.get("rule_id") == rule_id and "validation" in node:
                found.add((node["validation"], node.get("message") or ""))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for path in glob.glob(os.path.join(tree, "results", "**", "*.json"), recursive=True):
        if "telemetry" in path.split(os.sep) or path.endswith("_timeseries.json"):
            continue
        try:
            with open(path) as handle:
                walk(json.load(handle))
        except (OSError, ValueError):
            continue
    return sorted(found)


def by_hand(meta, tree, runs):
    """The first run's command, ``runs`` times back to back, each into its own folder; total wall time."""
    env = dict(os.environ, PATH="%s/bin:%s" % (VENV, os.environ.get("PATH", "")))
    started = time.monotonic()
    for _ in range(runs):
        out = os.path.join(tree, "by-hand-%d" % time.time_ns())
        os.makedirs(out)
        argv = [a.replace(meta["result_dir"], out) for a in meta["executed_argv"]]
        proc = subprocess.run(argv, cwd=os.path.join(tree, "work"), stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True, env=env)
        if proc.returncode != 0:
            sys.exit("DLIO by hand failed:\n" + proc.stderr[-3000:])
    return time.monotonic() - started


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs in the measured run set (default 3)")
    parser.add_argument("--quick", action="store_true",
                        help="16 files and 1 epoch instead of the embedded sizing (a smoke run)")
    parser.add_argument("--compare", action="store_true",
                        help="also run the same invocation with training_run_set=false (one phase per run) and "
                             "print its gaps beside the run set's")
    parser.add_argument("--extra", action="append", default=[], metavar="KEY=VALUE",
                        help="more -e for the measured playbook (for example training_telemetry=false)")
    args = parser.parse_args()
    if args.runs < 2:
        sys.exit("--runs must be at least 2 (a gap needs two runs)")
    if not os.path.exists(os.path.join(VENV, "bin", "dlio_benchmark")):
        sys.exit("the embedded environment is not provisioned at %s (run playbooks/provision.yml)" % VENV)
    sizing = ["-e", json.dumps({"mlperf_params": QUICK_PARAMS})] if args.quick else []
    extra = [a for kv in args.extra for a in ("-e", kv)]
    tree = tempfile.mkdtemp(prefix="mlperf-bench-")
    try:
        for name in ("results", "results-datagen", "data", "work"):
            os.makedirs(os.path.join(tree, name))
        print("generating the dataset once (not measured) ...", flush=True)
        # into another results tree: the verifier of the measured invocation sees only the run set's runs
        playbook(tree, sizing, "-e", "mlperf_runs=1", results="results-datagen")
        wall = playbook(tree, sizing, "-e", "mlperf_runs=%d" % args.runs, *extra)
        metas = run_metadata(tree)
        if len(metas) != args.runs:
            sys.exit("expected %d new runs, found %d" % (args.runs, len(metas)))
        gaps = gaps_of(metas)
        engine = sum(m["runtime"] for m in metas)
        issues = rule_issues(tree, "2.1.18")
        hand = by_hand(metas[0], tree, args.runs)
        phases = None
        if args.compare:  # the same invocation, one run_phase per run, into a tree of its own
            shutil.rmtree(os.path.join(tree, "results"))
            os.makedirs(os.path.join(tree, "results"))
            phases_wall = playbook(tree, sizing, "-e", "mlperf_runs=%d" % args.runs, "-e", "training_run_set=false",
                                   *extra)
            phases = (gaps_of(run_metadata(tree)), phases_wall, rule_issues(tree, "2.1.18"))
        print()
        dataset, train = metas[0]["parameters"]["dataset"], metas[0]["parameters"]["train"]
        print("run set of %d training runs, %s sizing (%s, %d x %d KiB files, %d ranks, %d epochs)" % (
            args.runs, "quick" if args.quick else "embedded", metas[0]["model"], dataset["num_files_train"],
            dataset["record_length_bytes"] // 1024, metas[0]["num_processes"], train["epochs"]))
        print("%-48s %8s" % ("", "seconds"))
        print("%-48s %8.2f" % ("idle engine time between runs, mean", statistics.mean(gaps)))
        print("%-48s %8.2f" % ("idle engine time between runs, max", max(gaps)))
        print("%-48s %8.1f" % ("engine time of the runs (sum)", engine))
        print("%-48s %8.1f" % ("playbook (preflight+plan+runs+verify)", wall))
        print("%-48s %8.1f" % ("same DLIO command by hand, back to back", hand))
        print("%-48s %8.2f" % ("ratio playbook / by hand", wall / hand))
        print("%-48s %8.1f" % ("overhead per run (s)", (wall - hand) / args.runs))
        if phases:
            print("%-48s %8.2f" % ("one phase per run: idle time between runs, mean", statistics.mean(phases[0])))
            print("%-48s %8.2f" % ("one phase per run: idle time between runs, max", max(phases[0])))
            print("%-48s %8.1f" % ("one phase per run: playbook", phases[1]))
            print("one phase per run: rule 2.1.18: %s" % ("; ".join("%s %s" % i for i in phases[2])
                                                          or "no issue recorded"))
        print("gaps: %s" % ", ".join("%.2f" % g for g in gaps))
        if issues:
            for validation, message in issues:
                print("rule 2.1.18: %s %s" % (validation, message))
        else:
            print("rule 2.1.18: no issue recorded")
        print(target_line("idle engine time between runs, localhost", max(gaps)))
    finally:
        shutil.rmtree(tree, ignore_errors=True)


if __name__ == "__main__":
    main()
