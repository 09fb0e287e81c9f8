# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Render a verification report (the dict of Report.to_dict) as a table, a verify-report file and JUnit XML.

Everything here works on plain dicts so the callback plugin can render reports it received
through task results without importing the engine's objects.
"""
from __future__ import annotations

import json
import os
import tempfile
import xml.etree.ElementTree as ET

_RANK = {"CLOSED": 0, "OPEN": 1, "INVALID": 2}
_SEV = {"error": 0, "warning": 1, "info": 2}

# headline metrics per benchmark, in table order
KEY_METRICS = {
    "training": ("au_mean_pct", "throughput_samples_per_s", "read_bw_GiB_per_s"),
    "checkpointing": ("write_bw_GiB_per_s", "read_bw_GiB_per_s", "checkpoint_size_GiB"),
    "vector_database": ("throughput_qps", "p99_latency_ms", "recall"),
    "kv_cache": ("option_1_read_bw_GBps", "option_2_read_bw_GBps", "option_3_read_bw_GBps"),
}
SUBMISSION_METRICS = {
    "training": ("read_bw_GiB_per_s", "train_mean_of_au_percentage", "train_mean_of_throughput_samples_per_second"),
    "checkpointing": ("write_bw_GiB_per_s", "read_bw_GiB_per_s", "write_duration_s", "read_duration_s"),
    "vector_database": ("throughput_qps", "p99_latency_ms", "recall"),
    "kv_cache": ("option_1_read_bw_GBps", "option_2_read_bw_GBps", "option_3_read_bw_GBps"),
}


def problems(issues):
    """Issues an operator must read, worst first: INVALID, OPEN, then CLOSED warnings."""
    picked = [i for i in issues if i.get("validation") != "CLOSED" or i.get("severity") == "warning"]
    return sorted(picked, key=lambda i: (-_RANK.get(i.get("validation"), 0), _SEV.get(i.get("severity"), 3)))


def _fmt(value):
    if value is None:
        return "-"
    if isinstance(value, float):
        return "%.2f" % value
    return str(value)


def _metrics_text(metrics, keys):
    parts = []
    for key in keys:
        if key in (metrics or {}):
            parts.append("%s=%s" % (key, _fmt(metrics[key])))
    return " ".join(parts) or "-"


def _issue_text(issue):
    rid = issue.get("rule_id")
    return "%s%s: %s" % (issue.get("validation"), " %s" % rid if rid else "", issue.get("message"))


def _table(headers, rows):
    widths = [len(h) for h in headers]
    for row in rows:
        for idx, cell in enumerate(row):
            widths[idx] = max(widths[idx], len(cell))
    line = "  ".join(h.ljust(widths[i]) for i, h in enumerate(headers)).rstrip()
    out = [line, "  ".join("-" * w for w in widths)]
    for row in rows:
        out.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
    return out


def _clip(text, width):
    return text if len(text) <= width else text[: width - 3] + "..."


def render_table(report, max_issues=2, issue_width=110, include_phase_runs=True):
    """A readable text table: one line per run, one per submission, first issues under each."""
    lines = ["MLPerf Storage rules verification: %s  (edition %s)  %s"
             % (report.get("verdict"), report.get("edition"), report.get("results_dir"))]
    if report.get("error"):
        lines.append("  %s" % report["error"])
    rows, notes = [], []
    for run in report.get("runs") or []:
        if not include_phase_runs and run.get("command") in ("datasize", "datagen"):
            continue
        keys = KEY_METRICS.get(run.get("benchmark"), ())
        rows.append([run.get("path") or run.get("run_id") or "-", run.get("benchmark") or "-",
                     run.get("model") or "-", run.get("command") or "-", run.get("verdict") or "-",
                     _metrics_text(run.get("metrics"), keys)])
        notes.append(problems(run.get("issues") or [])[:max_issues])
    if rows:
        lines.append("")
        table = _table(["run", "benchmark", "model", "command", "verdict", "key metrics"], rows)
        lines.extend(table[:2])
        for row_text, row_notes in zip(table[2:], notes):
            lines.append(row_text)
            for issue in row_notes:
                lines.append("    - " + _clip(_issue_text(issue), issue_width))
    subs = report.get("submissions") or []
    if subs:
        lines.append("")
        srows, snotes = [], []
        for sub in subs:
            name = "/".join(str(x) for x in (sub.get("division"), sub.get("org"), sub.get("system")) if x)
            keys = SUBMISSION_METRICS.get(sub.get("benchmark"), ())
            srows.append([name or "-", sub.get("benchmark") or "-", sub.get("model") or "-",
                          sub.get("verdict") or "-", _metrics_text(sub.get("metrics"), keys)])
            snotes.append(problems(sub.get("issues") or [])[:max_issues])
        table = _table(["result", "benchmark", "model", "verdict", "aggregated metrics"], srows)
        lines.extend(table[:2])
        for row_text, row_notes in zip(table[2:], snotes):
            lines.append(row_text)
            for issue in row_notes:
                lines.append("    - " + _clip(_issue_text(issue), issue_width))
    counts = report.get("counts") or {}
    lines.append("")
    lines.append("runs: %s" % ", ".join("%s %d" % (k, counts[k]) for k in ("CLOSED", "OPEN", "INVALID")
                                         if counts.get(k)) if counts else "runs: none")
    return "\n".join(lines)


def verify_report_document(report) -> dict:
    """The verify-report file: runs (path, benchmark, model, command, verdict, issues) and results."""
    return {
        "results_dir": report.get("results_dir"),
        "verdict": report.get("verdict"),
        "edition": report.get("edition"),
        "runs": [{k: run.get(k) for k in ("path", "benchmark", "model", "command", "run_id", "division",
                                          "verdict", "issues", "metrics")}
                 for run in report.get("runs") or []],
        "submissions": [{k: sub.get(k) for k in ("division", "org", "system", "benchmark", "model", "accelerator",
                                                 "verdict", "issues", "metrics")}
                        for sub in report.get("submissions") or []],
    }


def junit_xml(report, suite_name="mlperf.storage.rules") -> str:
    """One test suite per run and per submission, one test case per check.

    A check with INVALID or OPEN findings is a failure whose type is that verdict (CI can gate on
    either); CLOSED notes and warnings go to the test case's system-out.
    """
    root = ET.Element("testsuites", name=suite_name)
    total = failures = 0
    subjects = [("run", r, r.get("path") or r.get("run_id")) for r in report.get("runs") or []]
    subjects += [("submission", s, "/".join(str(x) for x in (s.get("division"), s.get("org"), s.get("system"),
                                                              s.get("benchmark"), s.get("model")) if x))
                 for s in report.get("submissions") or []]
    for kind, subject, name in subjects:
        suite = ET.SubElement(root, "testsuite", name="%s:%s" % (kind, name))
        by_check = {}
        for issue in subject.get("issues") or []:
            by_check.setdefault(issue.get("check") or "load", []).append(issue)
        checks = list(subject.get("checks") or [])
        known = set(c.get("check") for c in checks)
        for extra in sorted(c for c in by_check if c not in known):
            checks.insert(0, {"check": extra, "rule_id": (by_check[extra][0].get("rule_id") or ""), "title": extra})
        s_fail = 0
        for chk in checks:
            cname = chk.get("check")
            case = ET.SubElement(suite, "testcase", classname="%s.%s" % (suite_name, kind),
                                 name="%s %s" % (chk.get("rule_id") or "", cname))
            found = by_check.get(cname, [])
            bad = [i for i in found if i.get("validation") != "CLOSED"]
            if bad:
                worst = max(bad, key=lambda i: _RANK.get(i.get("validation"), 0))
                fail = ET.SubElement(case, "failure", type=worst.get("validation"),
                                     message=_clip(worst.get("message") or "", 500))
                fail.text = "\n".join(_issue_text(i) for i in bad)
                s_fail += 1
            notes = [i for i in found if i.get("validation") == "CLOSED"]
            if notes:
                out = ET.SubElement(case, "system-out")
                out.text = "\n".join("%s %s" % (i.get("severity"), i.get("message")) for i in notes)
        suite.set("tests", str(len(checks)))
        suite.set("failures", str(s_fail))
        total += len(checks)
        failures += s_fail
    root.set("tests", str(total))
    root.set("failures", str(failures))
    return ET.tostring(root, encoding="unicode")


def write_atomic(path, text):
    """Write text to path via a temp file in the same directory (readers never see half a file)."""
    directory = os.path.dirname(os.path.abspath(path)) or "."
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_json(path, data):
    write_atomic(path, json.dumps(data, indent=2, sort_keys=False) + "\n")
