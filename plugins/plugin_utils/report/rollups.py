# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""``results.json`` / ``results.csv`` rollups: one per model folder and one per organisation.

A *result* is one row: (division, system, benchmark, workload, accelerator) computed from its runs
(rules.md 7.3). The numbers are the rules engine's aggregation (``rules/metrics.py::aggregate``,
warm-up excluded, blank when a measured run lacks the field); this module only lays them out under
the published column names and writes the files where reportgen puts them (rules.md 8.2):

* training ``.../<model>/run/``, checkpointing ``.../<model>/``, vector database ``.../<INDEX>/run/``,
  kv cache ``.../<model>/run/`` - i.e. the folder holding the result's run timestamp directories;
* the organisation level ``<division>/<org>/results/``.
"""
from __future__ import annotations

import csv
import io
import os

from ..rules.layout import parse as parse_layout
from ..rules.report import problems, write_atomic, write_json

SCHEMA = "mlperf-storage-results/1"

IDENTITY = ("Division", "Submitter", "System", "Benchmark", "Workload", "Accelerator", "Processes", "Verdict",
            "Runs")
# published column -> (aggregated metric key, factor)
METRIC_COLUMNS = {
    "training": (("Read B/W (GiB/s)", "read_bw_GiB_per_s", 1.0),
                 ("train_mean_of_au_percentage", "train_mean_of_au_percentage", 1.0),
                 ("train_mean_of_throughput_samples_per_second", "train_mean_of_throughput_samples_per_second", 1.0)),
    "checkpointing": (("Write B/W (GiB/s)", "write_bw_GiB_per_s", 1.0),
                      ("Write Duration (secs)", "write_duration_s", 1.0),
                      ("Read B/W (GiB/s)", "read_bw_GiB_per_s", 1.0),
                      ("Read Duration (secs)", "read_duration_s", 1.0)),
    "vector_database": (("Queries per Sec", "throughput_qps", 1.0),
                        ("Query Latency (ms)", "mean_latency_ms", 1.0),
                        ("p99 Query Latency (ms)", "p99_latency_ms", 1.0),
                        ("Recall Percentage", "recall", 100.0),
                        ("Storage IOPs", "storage_iops", 1.0),
                        ("Read B/W (GiB/s)", "vdb_read_bw_GiB_per_s", 1.0)),
    "kv_cache": tuple(("Option %s %s" % (opt, label), "option_%s_%s" % (opt, key), 1.0)
                      for opt in ("1", "2", "3")
                      for label, key in (("Read B/W (GB/s)", "read_bw_GBps"), ("Write B/W (GB/s)", "write_bw_GBps"),
                                         ("Storage Tokens/s", "storage_tokens_per_s"))),
}
DIGITS = 2  # published results are rounded to two decimals


def _round(value):
    return round(value, DIGITS) if isinstance(value, float) else value


def _processes(sub, runs):
    metrics = sub.get("metrics") or {}
    for key in ("accelerators", "processes"):
        if metrics.get(key) is not None:
            return metrics[key]
    for run in runs:
        if run.get("command") in ("run", "run_benchmark") and run.get("num_processes") is not None:
            return run["num_processes"]
    return None


def result_row(sub, runs):
    """The published row of one result (submission dict of verify_tree) as an ordered dict."""
    measured = [r for r in runs if r.get("command") in ("run", "run_benchmark")]
    row = {
        "Division": sub.get("division"),
        "Submitter": sub.get("org"),
        "System": sub.get("system"),
        "Benchmark": sub.get("benchmark"),
        "Workload": sub.get("model"),
        "Accelerator": sub.get("accelerator"),
        "Processes": _processes(sub, runs),
        "Verdict": sub.get("verdict"),
        "Runs": len(measured),
    }
    metrics = sub.get("metrics") or {}
    for column, key, factor in METRIC_COLUMNS.get(sub.get("benchmark"), ()):
        value = metrics.get(key)
        row[column] = _round(value * factor) if isinstance(value, (int, float)) else None
    return row


def _run_role(run, sub):
    metrics = sub.get("metrics") or {}
    if run.get("command") not in ("run", "run_benchmark"):
        return run.get("command")
    ts = (run.get("run_id") or "").rsplit("_", 2)[-2:]
    stamp = "_".join(ts)
    if stamp in (metrics.get("warmup_runs") or []):
        return "warm-up"
    if metrics.get("measured_runs") is not None and stamp not in metrics["measured_runs"]:
        return "not counted"
    return "measured"


def result_document(sub, runs):
    """results.json of one model folder: the row, the aggregated metrics, every run and the open issues."""
    return {
        "schema": SCHEMA,
        "result": result_row(sub, runs),
        "metrics": sub.get("metrics") or {},
        "edition": sub.get("edition"),
        "runs": [{"run_id": r.get("run_id"), "path": r.get("path"), "command": r.get("command"),
                  "role": _run_role(r, sub), "verdict": r.get("verdict"), "metrics": r.get("metrics") or {}}
                 for r in runs],
        "issues": [i for i in problems(sub.get("issues") or [])],
    }


def csv_text(rows):
    """CSV with the identity columns first, then every metric column in first-seen order; blank = None."""
    columns = list(IDENTITY)
    for row in rows:
        for key in row:
            if key not in columns:
                columns.append(key)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow(dict((k, "" if row.get(k) is None else row.get(k)) for k in columns))
    return out.getvalue()


def result_folder(root, runs):
    """Absolute folder holding a result's measured run directories (None when they do not share one)."""
    measured = [r for r in runs if r.get("command") in ("run", "run_benchmark") and r.get("path")]
    parents = set(os.path.dirname(os.path.join(root, r["path"])) for r in measured)
    return parents.pop() if len(parents) == 1 else None


def org_dir(root, run_path):
    """``.../<division>/<org>`` of a run in the submission layout, wherever the tree's root is (None otherwise)."""
    info = parse_layout(os.path.join(root, run_path))
    if not (info.get("division") and info.get("org")):
        return None
    return os.sep + os.path.join(*(info["root_parts"] + [info["division"], info["org"]]))


def org_folder(root, runs):
    """``<division>/<org>/results`` of a result's runs when the tree has the submission layout."""
    found = set(org_dir(root, r["path"]) for r in runs if r.get("path"))
    if len(found) != 1 or None in found:
        return None
    path = os.path.join(found.pop(), "results")
    return path if os.path.isdir(path) else None


def write_rollups(root, report, write=True):
    """Write the rollups of every result in ``report`` (verify_tree(...).to_dict()) under ``root``.

    Returns ``{"rows": [...], "files": [...], "skipped": [reasons]}``; with ``write=False`` nothing is
    written and ``files`` lists what would be.
    """
    runs_by_path = dict((r.get("path"), r) for r in report.get("runs") or [])
    rows, files, skipped = [], [], []
    per_org = {}
    for sub in report.get("submissions") or []:
        runs = [runs_by_path[p] for p in sub.get("runs") or [] if p in runs_by_path]
        row = result_row(sub, runs)
        rows.append(row)
        folder = result_folder(root, runs)
        name = "/".join(str(sub.get(k)) for k in ("division", "org", "system", "benchmark", "model") if sub.get(k))
        if folder is None:
            skipped.append("%s: no measured run directories in one folder, so no model-level results.json" % name)
        else:
            doc = result_document(sub, runs)
            targets = (os.path.join(folder, "results.json"), os.path.join(folder, "results.csv"))
            if write:
                write_json(targets[0], doc)
                write_atomic(targets[1], csv_text([row]))
            files.extend(targets)
        org = org_folder(root, runs)
        if org is not None:
            per_org.setdefault(org, []).append((sub, runs, row))
    for org, members in sorted(per_org.items()):
        doc = {"schema": SCHEMA, "results": [row for _, _, row in members],
               "details": [result_document(sub, runs) for sub, runs, _ in members]}
        targets = (os.path.join(org, "results.json"), os.path.join(org, "results.csv"))
        if write:
            write_json(targets[0], doc)
            write_atomic(targets[1], csv_text([row for _, _, row in members]))
        files.extend(targets)
    return {"rows": rows, "files": files, "skipped": skipped}
