# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reports of a results tree: one self-contained HTML page, rollups, system descriptions, a package.

Plain Python on the controller. Verdicts and aggregation come from the rules engine
(``verify_tree``); this package lays them out, adds the telemetry plots and writes the files.
Entry point: :func:`build_report`.
"""
from __future__ import annotations

import json
import os
import shutil
from datetime import datetime, timezone

from ..rules import EditionError, verify_tree
from ..rules.report import write_atomic
from . import html_page, plots, rollups, series, systems

HTML_NAME = "mlperf-report.html"
FIGURE_CACHE = ".mlperf-report-figures"  # beside the page
PLOT_FORMATS = ("svg", "png")

# per benchmark: the per-run metric shown as a bar chart under a result
RESULT_CHARTS = {
    "training": ("au_mean_pct", "accelerator utilisation per run", "%"),
    "checkpointing": ("write_bw_GiB_per_s", "checkpoint write bandwidth per run", "GiB/s"),
    "vector_database": ("throughput_qps", "queries per second per run", "QPS"),
}


class ReportError(Exception):
    """Bad input for a report; the message says what and how to fix it."""


def _metadata(run_dir):
    try:
        names = sorted(n for n in os.listdir(run_dir) if n.endswith("_metadata.json"))
    except OSError:
        return {}
    for name in names:
        try:
            with open(os.path.join(run_dir, name), "r", encoding="utf-8") as handle:
                data = json.load(handle)
        except (OSError, ValueError):
            continue
        if isinstance(data, dict):
            return data
    return {}


def _check_args(results_dir, plot_format, package_dir):
    if not results_dir:
        raise ReportError("results_dir is required: the results tree (or one run directory) to report on")
    root = os.path.abspath(os.path.expanduser(str(results_dir)))
    if not os.path.isdir(root):
        raise ReportError("results_dir %s is not a directory; give the tree the benchmark wrote (the "
                          "mlperf_controller_results_dir of the play)" % root)
    if plot_format not in PLOT_FORMATS:
        raise ReportError("plot_format must be one of %s (got %r)" % (", ".join(PLOT_FORMATS), plot_format))
    if package_dir:
        dest = os.path.abspath(os.path.expanduser(str(package_dir)))
        if dest == root or dest.startswith(root + os.sep) or root.startswith(dest + os.sep):
            raise ReportError("package_dir %s must be outside the results tree %s (the package is a copy of the "
                              "tree's <division>/<org> directories)" % (dest, root))
    return root


def export_package(root, report, dest, write=True):
    """Copy ``<division>/<org>/{results,systems}`` (+ submission.yaml) of every org to ``dest``."""
    copied = []
    orgs = {}
    for run in report.get("runs") or []:
        src_org = rollups.org_dir(root, run["path"]) if run.get("path") else None
        if src_org and run.get("division") and run.get("org"):
            orgs[src_org] = (run["division"], run["org"])
    for src_org, (division, org) in sorted(orgs.items()):
        if not os.path.isdir(os.path.join(src_org, "results")):
            continue
        dst_org = os.path.join(dest, division, org)
        for name in ("results", "systems", "submission.yaml"):
            src = os.path.join(src_org, name)
            if not os.path.exists(src):
                continue
            copied.append(os.path.join(dst_org, name))
            if not write:
                continue
            target = os.path.join(dst_org, name)
            if os.path.isdir(target):
                shutil.rmtree(target)
            os.makedirs(dst_org, exist_ok=True)
            if os.path.isdir(src):
                shutil.copytree(src, target, ignore=shutil.ignore_patterns(".tmp-*", ".incoming"))
            else:
                shutil.copy2(src, target)
    return copied


def _result_charts(report, plot_format, cache):
    charts = {}
    by_path = dict((r.get("path"), r) for r in report.get("runs") or [])
    for sub in report.get("submissions") or []:
        spec = RESULT_CHARTS.get(sub.get("benchmark"))
        if not spec:
            continue
        runs = [by_path[p] for p in sub.get("runs") or [] if p in by_path
                and by_path[p].get("command") in ("run", "run_benchmark")]
        if len(runs) < 2:
            continue
        key, title, unit = spec
        chart = cache.figure(plots.metric_bar_figure, title, [os.path.basename(r.get("path") or "") for r in runs],
                             [(r.get("metrics") or {}).get(key) for r in runs], unit, plot_format)
        if chart:
            charts[id(sub)] = [chart]
    return charts


def build_report(results_dir, html_file=None, edition=None, write_rollups=True, write_systems=True,
                 system_description=None, overwrite_systems=False, package_dir=None, with_plots=True,
                 plot_format="svg", title=None, check_mode=False, now=None):
    """Verify ``results_dir`` with the rules engine and write its report files.

    Returns a dict: ``verdict``, ``html_file``, ``rollup_files``, ``results`` (rows), ``systems``,
    ``package_files``, ``plots`` (count), ``notes``. With ``check_mode`` nothing is written and the
    paths say what would be.
    """
    root = _check_args(results_dir, plot_format, package_dir)
    try:
        report = verify_tree(root, edition=edition).to_dict()
    except EditionError as exc:
        raise ReportError(str(exc))
    notes = []
    html_path = os.path.abspath(os.path.expanduser(html_file)) if html_file else os.path.join(root, HTML_NAME)

    # figures already drawn by an earlier report stay beside the page (plots.FigureCache)
    cache = plots.FigureCache(os.path.join(os.path.dirname(html_path), FIGURE_CACHE), write=not check_mode)
    run_views = {}
    plot_count = 0
    plot_error = None
    for run in report.get("runs") or []:
        run_dir = os.path.join(root, run.get("path") or "")
        if run.get("path") in (None, "", "."):
            run_dir = root
        tel = series.load_run_telemetry(run_dir)
        view = {"metadata": _metadata(run_dir), "telemetry": tel, "plots": []}
        if with_plots and tel.has_series and plot_error is None:
            label = "%s %s %s" % (run.get("benchmark") or "", run.get("command") or "", os.path.basename(run_dir))
            for host in sorted(tel.hosts):
                try:
                    markup = cache.figure(plots.host_figure, host, tel.hosts[host], tel.phases, label.strip(),
                                          plot_format)
                except plots.PlotUnavailable as exc:
                    plot_error = str(exc)
                    break
                if markup:
                    view["plots"].append(markup)
                    plot_count += 1
        run_views[run.get("path")] = view
    if plot_error:
        notes.append(plot_error)
    charts = {}
    if with_plots and plot_error is None:
        try:
            charts = _result_charts(report, plot_format, cache)
        except plots.PlotUnavailable as exc:
            notes.append(str(exc))
    plot_count += sum(len(v) for v in charts.values())
    if with_plots and plot_error is None:
        cache.prune()

    rollup = rollups.write_rollups(root, report, write=write_rollups and not check_mode)
    if not write_rollups:
        rollup["files"] = []
    notes.extend(rollup["skipped"])
    system_entries = systems.write_systems(root, report, description=system_description,
                                           overwrite=overwrite_systems,
                                           write=not check_mode) if write_systems else []
    by_sub = [rollups.result_row(s, [r for r in report.get("runs") or [] if r.get("path") in (s.get("runs") or [])])
              for s in report.get("submissions") or []]
    package_files = []
    if package_dir:
        package_files = export_package(root, report, os.path.abspath(os.path.expanduser(str(package_dir))),
                                       write=not check_mode)

    generated = (now or datetime.now(timezone.utc)).strftime("%Y-%m-%d %H:%M:%S UTC")
    page = html_page.render_page(report, run_views, by_sub, charts,
                                 title or "MLPerf Storage report: %s" % os.path.basename(root), generated, notes)
    if not check_mode:
        write_atomic(html_path, page)
    return {
        "verdict": report.get("verdict"),
        "edition": report.get("edition"),
        "results_dir": root,
        "html_file": html_path,
        "html_bytes": len(page.encode("utf-8")),
        "plots": plot_count,
        "figures_drawn": cache.drawn,
        "rollup_files": rollup["files"],
        "results": rollup["rows"],
        "systems": system_entries,
        "package_files": package_files,
        "notes": notes,
        "counts": report.get("counts") or {},
    }
