#!/usr/bin/env python3
# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the orchestration costs: one training run through the playbook vs the same DLIO command by hand.

Uses the embedded inventory's sizing (inventories/local) in a scratch results/data tree. The dataset is generated
once first (not measured); then, with the dataset reused:
  - playbook, telemetry on:   ansible-playbook run_training.yml -e mlperf_runs=1
  - playbook, telemetry off:  the same with -e training_telemetry=false
  - by hand:                  the executed_argv recorded in the playbook run's metadata, run directly
Prints the wall times, the engine time the playbook recorded, and the ratios.

--quick shrinks the run (16 files, 1 epoch) so that the fixed cost dominates: a smoke run, not the embedded sizing.

Needs the provisioned embedded environment (line 1 of the README, or playbooks/provision.yml).
Usage: .venv/bin/python bench/training_overhead.py [--repeat N] [--quick]
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

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _targets import target_line  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV = "/var/tmp/mlperf-storage/venv"
BIN = os.path.dirname(sys.executable)
# the embedded sizing (inventories/local) with fewer files and one epoch
QUICK_PARAMS = {"dataset.num_files_train": 16, "dataset.record_length_bytes": 262144,
                "dataset.record_length_bytes_stdev": 0, "dataset.record_length_bytes_resize": 262144,
                "train.epochs": 1}


def playbook(tree, sizing, *extra, results="results"):
    """Wall seconds of run_training.yml on the embedded inventory, into <tree>/<results> (exits on a failure)."""
    argv = [os.path.join(BIN, "ansible-playbook"), "-i", "inventories/local", "playbooks/run_training.yml",
            "-e", "mlperf_results_dir=%s/%s" % (tree, results), "-e", "mlperf_data_dir=%s/data" % tree,
            "-e", "mlperf_work_dir=%s/work" % tree, "-e", "python_env_dir=%s" % VENV] + sizing + list(extra)
    started = time.monotonic()
    proc = subprocess.run(argv, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          env=dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg")))
    wall = time.monotonic() - started
    if proc.returncode != 0:
        sys.exit("playbook failed:\n" + proc.stdout[-3000:])
    return wall


def newest_run_metadata(tree):
    """The metadata of the newest run directory (named by its timestamp); only directories holding a run's
    metadata count, not the files the verifier writes beside them (results.json, the rules report)."""
    metas = glob.glob(os.path.join(tree, "results", "*", "*", "results", "*", "training", "*", "run", "*",
                                   "training_*_metadata.json"))
    if not metas:
        sys.exit("no run metadata under %s/results" % tree)
    newest = max(metas, key=lambda path: os.path.basename(os.path.dirname(path)))
    with open(newest) as handle:
        return json.load(handle)


def by_hand(meta, tree):
    out = os.path.join(tree, "by-hand-%d" % time.time_ns())
    os.makedirs(out)
    argv = [a.replace(meta["result_dir"], out) for a in meta["executed_argv"]]
    env = dict(os.environ, PATH="%s/bin:%s" % (VENV, os.environ.get("PATH", "")))
    started = time.monotonic()
    proc = subprocess.run(argv, cwd=os.path.join(tree, "work"), stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True, env=env)
    wall = time.monotonic() - started
    if proc.returncode != 0:
        sys.exit("DLIO by hand failed:\n" + proc.stderr[-3000:])
    return wall


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2, help="measurements of each kind (default 2)")
    parser.add_argument("--quick", action="store_true",
                        help="16 files and 1 epoch instead of the embedded sizing (a smoke run)")
    args = parser.parse_args()
    if not os.path.exists(os.path.join(VENV, "bin", "dlio_benchmark")):
        sys.exit("the embedded environment is not provisioned at %s (run playbooks/provision.yml)" % VENV)
    sizing = ["-e", json.dumps({"mlperf_params": QUICK_PARAMS})] if args.quick else []
    tree = tempfile.mkdtemp(prefix="mlperf-bench-")
    try:
        for name in ("results", "data", "work"):
            os.makedirs(os.path.join(tree, name))
        print("generating the dataset once (not measured) ...", flush=True)
        playbook(tree, sizing, "-e", "mlperf_runs=1")
        on, off, hand, engine = [], [], [], []
        for _ in range(args.repeat):
            on.append(playbook(tree, sizing, "-e", "mlperf_runs=1"))
            meta = newest_run_metadata(tree)
            engine.append(meta["runtime"])
            off.append(playbook(tree, sizing, "-e", "mlperf_runs=1", "-e", "training_telemetry=false"))
            hand.append(by_hand(meta, tree))
        m = statistics.median
        print()
        dataset, train = meta["parameters"]["dataset"], meta["parameters"]["train"]
        print("one training run, %s sizing (%s, %d x %d KiB files, %d ranks, %d epochs), median of %d" % (
            "quick" if args.quick else "embedded", meta["model"], dataset["num_files_train"],
            dataset["record_length_bytes"] // 1024, meta["num_processes"], train["epochs"], args.repeat))
        print("%-44s %8s" % ("", "seconds"))
        print("%-44s %8.1f" % ("playbook (preflight+plan+run+verify), telemetry", m(on)))
        print("%-44s %8.1f" % ("playbook, telemetry off", m(off)))
        print("%-44s %8.1f" % ("engine time recorded by the playbook", m(engine)))
        print("%-44s %8.1f" % ("same DLIO command by hand", m(hand)))
        print("%-44s %8.2f" % ("ratio playbook / by hand", m(on) / m(hand)))
        print("%-44s %8.1f" % ("fixed overhead per invocation (s)", m(on) - m(hand)))
        print("%-44s %8.1f" % ("telemetry cost per run (s)", m(on) - m(off)))
        print()
        print(target_line("ratio playbook / by hand", m(on) / m(hand)))
        print(target_line("fixed overhead per invocation", m(on) - m(hand)))
        print(target_line("telemetry cost per invocation", m(on) - m(off)))
    finally:
        shutil.rmtree(tree, ignore_errors=True)


if __name__ == "__main__":
    main()
