#!/usr/bin/env python3
# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Rules-engine throughput: verify the published corpus and a synthetic tree of N run directories.

    python bench/verify_throughput.py [--runs 1000] [--corpus ../shared/corpus] [--repeat 3]

The synthetic tree is made of copies of the corpus's complete results (training, checkpointing,
kv cache, vector database), each copy under its own system name, in a temporary directory.
Prints runs/second for each tree (best of --repeat). A quick run: --runs 20 --repeat 1.
"""
import argparse
import os
import shutil
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, ".collections"))

from ansible_collections.mlperf.storage.plugins.plugin_utils.rules import verify_tree  # noqa: E402
from ansible_collections.mlperf.storage.plugins.plugin_utils.rules.loader import iter_run_dirs  # noqa: E402


def timed(path, repeat):
    best = None
    report = None
    for _ in range(repeat):
        start = time.perf_counter()
        report = verify_tree(path)
        elapsed = time.perf_counter() - start
        best = elapsed if best is None else min(best, elapsed)
    return best, report


def build_synthetic(corpus, dest, target_runs):
    """Copy each <division>/<org>/results/<system> of the corpus under new system names."""
    systems = []
    for division in ("closed", "open"):
        base = os.path.join(corpus, division)
        if not os.path.isdir(base):
            continue
        for org in sorted(os.listdir(base)):
            results = os.path.join(base, org, "results")
            for system in sorted(os.listdir(results)) if os.path.isdir(results) else []:
                src = os.path.join(results, system)
                systems.append((division, org, src, sum(1 for _ in iter_run_dirs(src))))
    made = copy_idx = 0
    while made < target_runs:
        division, org, src, count = systems[copy_idx % len(systems)]
        target = os.path.join(dest, division, org, "results", "%s-copy%04d" % (os.path.basename(src), copy_idx))
        shutil.copytree(src, target)
        made += count
        copy_idx += 1
    return made


def tree_arguments(doc):
    """The options every verify bench takes: synthetic tree size, corpus, repetitions."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--corpus", default=os.environ.get("MLPERF_CORPUS",
                                                           os.path.join(os.path.dirname(REPO), "shared", "corpus")))
    parser.add_argument("--repeat", type=int, default=3)
    return parser


def corpus_missing(corpus):
    """True (after saying so) when the corpus the synthetic trees are copied from is absent."""
    if os.path.isdir(os.path.join(corpus, "closed")):
        return False
    print("corpus not found at %s (set --corpus or MLPERF_CORPUS)" % corpus)
    return True


def main():
    args = tree_arguments(__doc__).parse_args()
    if corpus_missing(args.corpus):
        return 2

    elapsed, report = timed(args.corpus, args.repeat)
    n = len(report.runs)
    print("corpus: %d runs, %d results, verdict %s: %.3f s, %.0f runs/s"
          % (n, len(report.groups), report.verdict, elapsed, n / elapsed))

    tmp = tempfile.mkdtemp(prefix="mlperf-verify-bench-")
    try:
        start = time.perf_counter()
        made = build_synthetic(args.corpus, tmp, args.runs)
        copy_s = time.perf_counter() - start
        elapsed, report = timed(tmp, args.repeat)
        n = len(report.runs)
        assert n == made, (n, made)
        print("synthetic: %d runs, %d results (copied in %.1f s), verdict %s: %.3f s, %.0f runs/s"
              % (n, len(report.groups), copy_s, report.verdict, elapsed, n / elapsed))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
