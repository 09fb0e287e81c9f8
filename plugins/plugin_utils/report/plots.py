# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Per-host time-series figures rendered by matplotlib as inline SVG (or base64 PNG) markup.

One figure per host and run: disk throughput, IOPS, CPU, memory and network, sharing one time axis
(seconds since the first sample) with the benchmark phases shaded behind every panel.
"""
from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import re
from datetime import datetime, timezone

from ..rules.report import write_atomic

MiB = 1024.0 ** 2
GiB = 1024.0 ** 3
PHASE_COLOURS = ("#f4d58d", "#bde0fe", "#c7f9cc", "#ffc8dd", "#e2ece9")

# (title, unit, [(column, label, scale, colour)])
PANELS = (
    ("Disk throughput", "MiB/s", (("disk_read_Bps", "read", MiB, "#1f77b4"),
                                   ("disk_write_Bps", "write", MiB, "#d62728"))),
    ("Disk IOPS", "ops/s", (("read_iops", "read", 1.0, "#1f77b4"), ("write_iops", "write", 1.0, "#d62728"))),
    ("CPU", "%", (("cpu_busy_pct", "busy", 1.0, "#2ca02c"), ("cpu_iowait_pct", "iowait", 1.0, "#9467bd"))),
    ("Memory", "GiB", (("mem_used_B", "used", GiB, "#8c564b"), ("mem_cached_B", "page cache", GiB, "#7f7f7f"))),
    ("Network", "MiB/s", (("net_rx_Bps", "rx", MiB, "#17becf"), ("net_tx_Bps", "tx", MiB, "#ff7f0e"))),
)


# Part of every cached figure's key: change it whenever a figure is drawn differently.
DRAWING = "2"
CACHED_NAME = re.compile(r"^[0-9a-f]{64}\.html$")


class PlotUnavailable(Exception):
    """matplotlib is missing on the controller; the message says how to install it."""


class FigureCache:
    """Figures already drawn, one file each in ``directory``, named by a digest of everything the figure is drawn
    from (the drawing function, its arguments, :data:`DRAWING`).

    The report draws every run of the tree at each invocation, and a sealed run's figures never change: without
    the cache a tree's report costs a figure per run and host every time (and the import of matplotlib, about
    0.4 s, even when nothing is new). ``write=False`` (check mode) reads the cache and writes nothing.
    """

    def __init__(self, directory, write=True):
        self.directory = directory
        self.write = write
        self.used = set()
        self.drawn = 0

    def figure(self, draw, *args):
        text = json.dumps([DRAWING, draw.__name__, args], sort_keys=True, default=str, separators=(",", ":"))
        name = hashlib.sha256(text.encode("utf-8")).hexdigest() + ".html"
        self.used.add(name)
        path = os.path.join(self.directory, name)
        try:
            with open(path, encoding="utf-8") as handle:
                return handle.read()
        except (OSError, UnicodeDecodeError):
            pass
        markup = draw(*args)
        self.drawn += 1
        if markup is not None and self.write:
            write_atomic(path, markup)
        return markup

    def prune(self):
        """Remove the cached figures this report did not use (runs no longer in the tree, older drawings); only
        files named as the cache names them."""
        if not self.write:
            return []
        try:
            names = os.listdir(self.directory)
        except OSError:
            return []
        removed = []
        for name in names:
            if CACHED_NAME.match(name) and name not in self.used:
                try:
                    os.unlink(os.path.join(self.directory, name))
                    removed.append(name)
                except OSError:
                    pass
        return removed


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise PlotUnavailable("matplotlib is not installed in the controller's Python, so the report has no "
                              "plots; install it (pip install -r requirements/controller.txt, or the "
                              "execution environment's meta/ee-requirements.txt)")
    matplotlib.use("Agg", force=True)  # files only, never a display
    import matplotlib.pyplot as plt
    return plt


def _scaled(values, scale):
    return [None if v is None else v / scale for v in values]


def _figure_markup(fig, fmt):
    buf = io.BytesIO()
    if fmt == "png":
        fig.savefig(buf, format="png", dpi=90)
        return '<img class="plot" alt="time series" src="data:image/png;base64,%s"/>' % (
            base64.b64encode(buf.getvalue()).decode("ascii"))
    fig.savefig(buf, format="svg", metadata={"Date": None})
    text = buf.getvalue().decode("utf-8")
    # inline in HTML: drop the XML prolog and DOCTYPE, keep the <svg> element
    start = text.find("<svg")
    svg = text[start:] if start >= 0 else text
    svg = re.sub(r"<metadata>.*?</metadata>\s*", "", svg, flags=re.S)  # RDF block: bulk, nothing shown
    return re.sub(r"^<svg ", '<svg class="plot" role="img" ', svg, count=1)


def host_figure(host, columns, phases, title, fmt="svg"):
    """Markup (inline <svg> or <img>) of one host's panels; phases are epoch-second spans."""
    plt = _pyplot()
    times = columns.get("t") or []
    if not times:
        return None
    t0 = times[0]
    x = [t - t0 for t in times]
    with plt.rc_context({"svg.fonttype": "none", "font.size": 8, "axes.titlesize": 9,
                         "axes.spines.top": False, "axes.spines.right": False}):
        fig, axes = plt.subplots(len(PANELS), 1, sharex=True, figsize=(9.5, 1.55 * len(PANELS) + 0.6))
        try:
            for ax, (panel, unit, lines) in zip(axes, PANELS):
                for pos, phase in enumerate(phases):
                    ax.axvspan(phase["start"] - t0, phase["end"] - t0, color=PHASE_COLOURS[pos % len(PHASE_COLOURS)],
                               alpha=0.6, linewidth=0, zorder=0)
                plotted = False
                for column, label, scale, colour in lines:
                    values = columns.get(column) or []
                    if any(v is not None for v in values):
                        ax.plot(x, _scaled(values, scale), label=label, color=colour, linewidth=1.1, zorder=2)
                        plotted = True
                ax.set_ylabel(unit)
                ax.set_title(panel, loc="left")
                ax.set_ylim(bottom=0)
                ax.grid(True, axis="y", linewidth=0.4, alpha=0.6)
                if plotted:
                    ax.legend(loc="upper right", fontsize=7, frameon=False, ncol=2)
                else:
                    ax.text(0.5, 0.5, "not sampled", transform=ax.transAxes, ha="center", va="center",
                            color="#888888")
            for pos, phase in enumerate(phases):  # phase names once, on the top panel
                axes[0].text(max(phase["start"] - t0, 0), 0.97, " " + str(phase["name"]),
                             transform=axes[0].get_xaxis_transform(), fontsize=7, color="#555555", va="top")
            axes[-1].set_xlabel("seconds since %s" % datetime.fromtimestamp(t0, tz=timezone.utc).strftime(
                "%Y-%m-%d %H:%M:%S UTC"))
            fig.suptitle("%s - %s" % (title, host), fontsize=10, x=0.01, ha="left")
            # fixed margins for the fixed figure size: tight_layout measured every tick label again and cost
            # about 0.45 s a figure, most of a report's time once a tree holds a few runs
            fig.subplots_adjust(left=0.085, right=0.985, bottom=0.065, top=0.93, hspace=0.5)
            return _figure_markup(fig, fmt)
        finally:
            plt.close(fig)


def metric_bar_figure(title, labels, values, unit, fmt="svg"):
    """A small bar chart (per-run metric of a result: e.g. throughput of the six runs)."""
    plt = _pyplot()
    pairs = [(l, v) for l, v in zip(labels, values) if v is not None]
    if not pairs:
        return None
    with plt.rc_context({"svg.fonttype": "none", "font.size": 8, "axes.spines.top": False,
                         "axes.spines.right": False}):
        fig, ax = plt.subplots(figsize=(6.0, 2.4))
        try:
            ax.bar(range(len(pairs)), [v for _, v in pairs], color="#4c72b0")
            ax.set_xticks(range(len(pairs)))
            ax.set_xticklabels([l for l, _ in pairs], rotation=30, ha="right", fontsize=7)
            ax.set_ylabel(unit)
            ax.set_title(title, loc="left", fontsize=9)
            ax.grid(True, axis="y", linewidth=0.4, alpha=0.6)
            fig.tight_layout()
            return _figure_markup(fig, fmt)
        finally:
            plt.close(fig)
