#!/usr/bin/env python3
# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Rules-engine throughput on sealed run directories (each with its CHECKSUMS.sha256).

    python bench/verify_sealed_throughput.py [--runs 1000] [--corpus ../shared/corpus] [--repeat 3]
                                             [--pad-mb 0]

The synthetic tree is the one of verify_throughput.py (copies of the corpus's results), and every
run directory is then sealed the way run_phase seals it. --pad-mb adds a file of that many MiB to
each run before sealing, to see what hashing costs on run directories of a realistic size (a real
training run holds one output.json per rank, logs and telemetry: tens of MiB).
Prints, best of --repeat, the time (wall and CPU) to verify the tree with the manifest checked for
presence only and with every listed file hashed (the default). A quick run: --runs 20 --repeat 1.
"""
import os
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

# REPO is imported for its side effect: it puts the collection on sys.path
from verify_throughput import REPO, build_synthetic, corpus_missing, tree_arguments  # noqa: E402,F401

from ansible_collections.mlperf.storage.plugins.module_utils import _results  # noqa: E402
from ansible_collections.mlperf.storage.plugins.plugin_utils.rules import verify_tree  # noqa: E402
from ansible_collections.mlperf.storage.plugins.plugin_utils.rules.loader import iter_run_dirs  # noqa: E402


def timed(path, repeat, checksums):
    """(best wall seconds, best CPU seconds, report): CPU time is steadier on a shared machine."""
    best = best_cpu = None
    report = None
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        report = verify_tree(path, checksums=checksums)
        elapsed, cpu = time.perf_counter() - start, time.process_time() - start_cpu
        best = elapsed if best is None else min(best, elapsed)
        best_cpu = cpu if best_cpu is None else min(best_cpu, cpu)
    return best, best_cpu, report


def main():
    parser = tree_arguments(__doc__)
    parser.add_argument("--pad-mb", type=float, default=0.0)
    args = parser.parse_args()
    if corpus_missing(args.corpus):
        return 2
    tmp = tempfile.mkdtemp(prefix="mlperf-verify-sealed-bench-")
    try:
        made = build_synthetic(args.corpus, tmp, args.runs)
        pad = os.urandom(int(args.pad_mb * (1 << 20))) if args.pad_mb > 0 else b""
        files = total = 0
        for run_dir in iter_run_dirs(tmp):
            if pad:
                with open(os.path.join(run_dir, "padding.bin"), "wb") as handle:
                    handle.write(pad)
            files += _results.write_checksums(run_dir)
        for dirpath, _dirs, names in os.walk(tmp):
            total += sum(os.path.getsize(os.path.join(dirpath, n)) for n in names)
        print("sealed tree: %d runs, %d listed files, %.1f MiB" % (made, files, total / float(1 << 20)))
        for mode in ("presence", "sha256"):
            elapsed, cpu, report = timed(tmp, args.repeat, mode)
            print("checksums=%-8s: %d runs, verdict %s: %.3f s (%.3f s CPU), %.0f runs/s"
                  % (mode, len(report.runs), report.verdict, elapsed, cpu, len(report.runs) / elapsed))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
