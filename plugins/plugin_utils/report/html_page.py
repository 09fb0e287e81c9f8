# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The self-contained HTML page: verdicts and issues, metrics, plots, snapshot differences, commands.

No scripts and no external resources: styles are inline and plots are inline SVG or data-URI PNG,
so the file opens offline and can be attached to a ticket as is.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone
from html import escape

from ..rules.report import problems

CSS = """
body{font-family:-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;margin:24px;color:#222;max-width:1300px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:2px solid #ddd}
h3{font-size:15px;margin:18px 0 6px}h4{font-size:13px;margin:12px 0 4px;color:#444}
table{border-collapse:collapse;margin:6px 0 10px;font-size:12px}
th,td{border:1px solid #ddd;padding:3px 7px;text-align:left;vertical-align:top}th{background:#f4f4f4}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.verdict{display:inline-block;padding:2px 10px;border-radius:4px;font-weight:bold;color:#fff}
.verdict.CLOSED{background:#2e7d32}.verdict.OPEN{background:#ef8f00}.verdict.INVALID{background:#c62828}
.verdict.big{font-size:26px;padding:6px 18px}
.meta{color:#555;font-size:12px}.note{color:#666;font-size:12px;font-style:italic}
pre{background:#f7f7f7;border:1px solid #e2e2e2;padding:8px;font-size:11px;white-space:pre-wrap;word-break:break-all}
section.run{border:1px solid #e4e4e4;border-radius:6px;padding:6px 14px 12px;margin:14px 0}
svg.plot,img.plot{max-width:100%;height:auto;display:block;margin:6px 0}
.sev-INVALID{color:#c62828;font-weight:bold}.sev-OPEN{color:#b36b00;font-weight:bold}.sev-CLOSED{color:#2e7d32}
ul.toc{font-size:12px;columns:2}
"""


def _fmt(value):
    if value is None:
        return ""
    if isinstance(value, float):
        return "%.4g" % value if abs(value) < 0.01 and value != 0 else "{:,.2f}".format(value)
    if isinstance(value, (list, dict)):
        return json.dumps(value, sort_keys=True)
    return str(value)


def verdict_badge(verdict, big=False, element_id=None):
    verdict = verdict or "INVALID"
    return '<span%s class="verdict %s%s">%s</span>' % (' id="%s"' % element_id if element_id else "",
                                                        escape(verdict), " big" if big else "", escape(verdict))


def table(headers, rows, numeric=()):
    out = ["<table><tr>%s</tr>" % "".join("<th>%s</th>" % escape(h) for h in headers)]
    for row in rows:
        cells = []
        for pos, cell in enumerate(row):
            cls = ' class="num"' if pos in numeric and isinstance(cell, (int, float)) else ""
            cells.append("<td%s>%s</td>" % (cls, cell if isinstance(cell, _Raw) else escape(_fmt(cell))))
        out.append("<tr>%s</tr>" % "".join(cells))
    out.append("</table>")
    return "\n".join(out)


class _Raw(str):
    """Markup that table() inserts without escaping."""


def issues_block(issues, empty="no findings"):
    shown = problems(issues)
    notes = [i for i in issues if i not in shown]
    parts = []
    if shown:
        rows = [[_Raw('<span class="sev-%s">%s</span>' % (escape(str(i.get("validation"))),
                                                          escape(str(i.get("validation"))))),
                 i.get("severity"), i.get("rule_id"), i.get("check"), i.get("message"), i.get("parameter"),
                 i.get("expected"), i.get("actual")] for i in shown]
        parts.append(table(["verdict", "severity", "rule", "check", "message", "parameter", "expected", "actual"],
                           rows))
    else:
        parts.append('<p class="note">%s</p>' % escape(empty))
    if notes:
        rows = [[i.get("rule_id"), i.get("check"), i.get("message")] for i in notes]
        parts.append("<details><summary>%d closed-compatible check note(s)</summary>%s</details>"
                     % (len(notes), table(["rule", "check", "message"], rows)))
    return "\n".join(parts)


def metrics_table(metrics):
    if not metrics:
        return '<p class="note">no metrics (the engine wrote no summary for this leaf)</p>'
    return table(["metric", "value"], [[k, v] for k, v in metrics.items()], numeric=(1,))


def _flatten_diff(diff, prefix=""):
    rows = []
    for key, value in sorted(diff.items()):
        name = "%s.%s" % (prefix, key) if prefix else key
        if isinstance(value, dict) and ("start" in value or "end" in value) and set(value) <= {"start", "end", "delta"}:
            rows.append([name, value.get("start"), value.get("end"), value.get("delta")])
        elif isinstance(value, dict):
            rows.extend(_flatten_diff(value, name))
        elif isinstance(value, list):
            if value:
                rows.append([name, None, value, None])
        else:
            rows.append([name, None, value, None])
    return rows


def snapshot_diff_block(diff):
    if not diff:
        return '<p class="note">no start/end snapshots recorded</p>'
    parts = []
    for host in sorted(diff):
        rows = _flatten_diff(diff[host] or {})
        if rows:
            parts.append("<h4>%s</h4>%s" % (escape(host), table(["what changed", "start", "end", "delta"], rows,
                                                                 numeric=(1, 2, 3))))
        else:
            parts.append("<h4>%s</h4><p class=\"note\">nothing changed between the start and end snapshots</p>"
                         % escape(host))
    return "\n".join(parts)


def phases_table(phases):
    rows = []
    for phase in phases:
        rows.append([phase["name"], _utc(phase["start"]), _utc(phase["end"]), round(phase["end"] - phase["start"], 1)])
    return table(["phase (shaded)", "start", "end", "seconds"], rows, numeric=(3,))


def _utc(epoch):
    return datetime.fromtimestamp(epoch, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def anchor(path):
    return "run-" + "".join(c if c.isalnum() else "-" for c in str(path))


def run_section(run, view):
    """One run: header, metrics, issues, commands, plots, phases, snapshot differences."""
    meta = view.get("metadata") or {}
    tel = view.get("telemetry")
    head = [
        '<section class="run" id="%s">' % anchor(run.get("path")),
        "<h3>%s %s</h3>" % (verdict_badge(run.get("verdict")), escape(str(run.get("path") or run.get("run_id")))),
        '<p class="meta">%s</p>' % escape(" | ".join(
            "%s: %s" % (k, _fmt(v)) for k, v in (
                ("benchmark", run.get("benchmark")), ("model", run.get("model")), ("command", run.get("command")),
                ("accelerator", run.get("accelerator")), ("processes", run.get("num_processes")),
                ("runtime s", meta.get("runtime")), ("recorded verification", run.get("recorded_verification")),
                ("exit status", meta.get("exit_status"))) if v is not None)),
        "<h4>Metrics</h4>", metrics_table(run.get("metrics")),
        "<h4>Issues</h4>", issues_block(run.get("issues") or []),
        "<h4>Commands that ran</h4>",
    ]
    command = meta.get("executed_command")
    if command:
        head.append("<pre class=\"command\">%s</pre>" % escape(str(command)))
    else:
        head.append('<p class="note">no engine command recorded (%s)</p>'
                    % ("computed on the controller" if run.get("command") == "datasize" else "metadata has none"))
    for out in meta.get("command_output_files") or []:
        if isinstance(out, dict):
            head.append('<p class="meta">output of %s: %s, %s</p>' % (
                escape(str(out.get("command"))), escape(str(out.get("stdout"))), escape(str(out.get("stderr")))))
    head.append("<h4>Host time series</h4>")
    if tel is not None and view.get("plots"):
        head.append('<p class="meta">benchmark phases are shaded; interval %s s</p>' % _fmt(tel.interval))
        head.extend(view["plots"])
        if tel.phases:
            head.append(phases_table(tel.phases))
    for note in (tel.notes if tel is not None else ["no telemetry loaded"]):
        head.append('<p class="note">%s</p>' % escape(note))
    if view.get("plot_error"):
        head.append('<p class="note">%s</p>' % escape(view["plot_error"]))
    if tel is not None and tel.warnings:
        head.append("<details><summary>%d telemetry warning(s)</summary><ul>%s</ul></details>" % (
            len(tel.warnings), "".join("<li>%s</li>" % escape(w) for w in tel.warnings)))
    if tel is not None and tel.index_file:
        head.append("<h4>Start and end snapshot differences</h4>")
        head.append(snapshot_diff_block(tel.snapshot_diff))
    head.append("</section>")
    return "\n".join(head)


def submissions_block(report, rows, charts):
    subs = report.get("submissions") or []
    if not subs:
        return '<p class="note">no results: a single run directory, or no runs</p>'
    parts = []
    for sub, row in zip(subs, rows):
        name = " / ".join(str(sub.get(k)) for k in ("division", "org", "system", "benchmark", "model")
                          if sub.get(k))
        parts.append("<h3>%s %s</h3>" % (verdict_badge(sub.get("verdict")), escape(name)))
        parts.append(table(list(row.keys()), [list(row.values())], numeric=tuple(range(6, len(row)))))
        for chart in charts.get(id(sub), []):
            parts.append(chart)
        parts.append(issues_block(sub.get("issues") or []))
        links = ['<a href="#%s">%s</a>' % (anchor(p), escape(p)) for p in sub.get("runs") or []]
        parts.append('<p class="meta">runs: %s</p>' % ", ".join(links))
    return "\n".join(parts)


def render_page(report, run_views, rows, charts, title, generated_at, extra_notes=()):
    counts = report.get("counts") or {}
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8"><title>%s</title>' % escape(title),
        "<style>%s</style></head><body>" % CSS,
        "<h1>%s</h1>" % escape(title),
        '<p class="meta">results: %s | edition %s | generated %s</p>' % (
            escape(str(report.get("results_dir"))), escape(_fmt(report.get("edition"))), escape(generated_at)),
        '<p>Overall verdict: %s &nbsp; <span class="meta">runs: %s</span></p>' % (
            verdict_badge(report.get("verdict"), big=True, element_id="verdict"),
            escape(", ".join("%s %d" % (k, counts[k]) for k in ("CLOSED", "OPEN", "INVALID") if counts.get(k))
                   or "none")),
    ]
    if report.get("error"):
        out.append('<p class="sev-INVALID">%s</p>' % escape(report["error"]))
    for note in extra_notes:
        out.append('<p class="note">%s</p>' % escape(note))
    out.append("<h2>Results</h2>")
    out.append(submissions_block(report, rows, charts))
    runs = report.get("runs") or []
    out.append("<h2>Runs (%d)</h2>" % len(runs))
    out.append('<ul class="toc">%s</ul>' % "".join(
        '<li>%s <a href="#%s">%s</a></li>' % (verdict_badge(r.get("verdict")), anchor(r.get("path")),
                                              escape(str(r.get("path")))) for r in runs))
    for run in runs:
        out.append(run_section(run, run_views.get(run.get("path")) or {}))
    out.append('<p class="meta">mlperf.storage report</p></body></html>')
    return "\n".join(out) + "\n"
