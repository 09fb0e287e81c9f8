# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read a run's telemetry (index, per-host JSON-lines series, snapshot diff) into plot-ready columns.

Everything is optional: published trees often carry no time series at all, and a run whose sampler
died has a short or empty series. Missing or unreadable files become notes, never exceptions.
"""
from __future__ import annotations

import fnmatch
import json
import os
from datetime import datetime, timezone

# Long runs sample for hours; plots keep at most this many points per line (bucket means).
MAX_POINTS = 1200

COLUMNS = ("t", "disk_read_Bps", "disk_write_Bps", "read_iops", "write_iops", "cpu_busy_pct", "cpu_iowait_pct",
           "mem_used_B", "mem_cached_B", "net_rx_Bps", "net_tx_Bps")


class RunTelemetry:
    """What the report shows of one run's telemetry."""

    def __init__(self):
        self.index_file = None
        self.interval = None
        self.hosts = {}  # host -> {column: [values]}
        self.phases = []  # [{"name", "start", "end"}] epoch seconds
        self.snapshot_diff = {}
        self.warnings = []
        self.notes = []  # why something is absent

    @property
    def has_series(self):
        return any(cols["t"] for cols in self.hosts.values())


def parse_iso(text):
    """Epoch seconds from the ISO-8601 UTC times the telemetry writes (None when unparsable)."""
    if not isinstance(text, str) or not text:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.timestamp()


def _sum_field(mapping, field):
    """Sum one field over devices or interfaces; None when no device reported it."""
    if not isinstance(mapping, dict):
        return None
    values = [d.get(field) for d in mapping.values() if isinstance(d, dict) and d.get(field) is not None]
    return sum(values) if values else None


def sample_row(sample):
    """One sample line of proc_sampler as a row of COLUMNS (None where a section is missing)."""
    cpu = sample.get("cpu") if isinstance(sample.get("cpu"), dict) else {}
    mem = sample.get("mem") if isinstance(sample.get("mem"), dict) else {}
    idle = cpu.get("idle")
    return (
        float(sample["ts"]),
        _sum_field(sample.get("disk"), "read_bytes_per_s"),
        _sum_field(sample.get("disk"), "write_bytes_per_s"),
        _sum_field(sample.get("disk"), "read_iops"),
        _sum_field(sample.get("disk"), "write_iops"),
        None if idle is None else round(100.0 - idle, 2),
        cpu.get("iowait"),
        mem.get("used"),
        mem.get("cached"),
        _sum_field(sample.get("net"), "rx_bytes_per_s"),
        _sum_field(sample.get("net"), "tx_bytes_per_s"),
    )


def read_series(lines):
    """Columns from an iterable of JSON lines; returns (columns, bad_line_count)."""
    rows = []
    bad = 0
    for raw in lines:
        raw = raw.strip()
        if not raw:
            continue
        try:
            rows.append(sample_row(json.loads(raw)))
        except (ValueError, TypeError, KeyError, AttributeError):
            bad += 1  # a killed sampler cuts its last line
    rows.sort(key=lambda r: r[0])
    columns = dict((name, [r[i] for r in rows]) for i, name in enumerate(COLUMNS))
    return columns, bad


def downsample(columns, max_points=MAX_POINTS):
    """Bucket means so a multi-hour series stays a readable, small plot; gaps (None) stay gaps."""
    n = len(columns["t"])
    if n <= max_points:
        return columns
    size = -(-n // max_points)
    out = dict((name, []) for name in columns)
    for start in range(0, n, size):
        for name, values in columns.items():
            chunk = [v for v in values[start:start + size] if v is not None]
            out[name].append(sum(chunk) / len(chunk) if chunk else None)
    return out


def _load_json(path):
    with open(path, "r", encoding="utf-8") as handle:
        return json.load(handle)


def find_index(run_dir):
    names = sorted(n for n in os.listdir(run_dir) if fnmatch.fnmatch(n, "*_timeseries.json"))
    return os.path.join(run_dir, names[0]) if names else None


def load_run_telemetry(run_dir, max_points=MAX_POINTS):
    """The telemetry of one run directory; absent parts are explained in ``notes``."""
    tel = RunTelemetry()
    try:
        index_path = find_index(run_dir)
    except OSError as exc:
        tel.notes.append("run directory unreadable: %s" % exc)
        return tel
    if index_path is None:
        tel.notes.append("no time series in this run directory (no *_timeseries.json)")
        return tel
    tel.index_file = os.path.basename(index_path)
    try:
        index = _load_json(index_path)
    except (OSError, ValueError) as exc:
        tel.notes.append("%s cannot be read: %s" % (tel.index_file, exc))
        return tel
    if not isinstance(index, dict):
        tel.notes.append("%s is not a JSON object" % tel.index_file)
        return tel
    tel.interval = index.get("collection_interval_seconds")
    tel.warnings = [str(w) for w in index.get("warnings") or []]
    for phase in index.get("phases") or []:
        start, end = parse_iso(phase.get("start_time")), parse_iso(phase.get("end_time"))
        if start is not None and end is not None:
            tel.phases.append({"name": phase.get("name") or "unlabelled", "start": start, "end": end})
    hosts = index.get("hosts")
    if isinstance(hosts, dict):
        for host in sorted(hosts):
            entry = hosts[host] if isinstance(hosts[host], dict) else {}
            rel = entry.get("file")
            if not rel:
                tel.notes.append("%s: no series file (%s)" % (host, entry.get("error") or "sampler produced none"))
                continue
            path = os.path.join(run_dir, rel)
            try:
                with open(path, "r", encoding="utf-8", errors="replace") as handle:
                    columns, bad = read_series(handle)
            except OSError as exc:
                tel.notes.append("%s: series %s cannot be read: %s" % (host, rel, exc.strerror or exc))
                continue
            if bad:
                tel.notes.append("%s: %d unreadable line(s) skipped in %s" % (host, bad, rel))
            tel.hosts[host] = downsample(columns, max_points)
    elif isinstance(index.get("samples_by_host"), dict):
        # the upstream collector's single-file layout: samples inline, raw /proc counters
        tel.notes.append("%s holds raw upstream samples (samples_by_host); rates are not plotted"
                         % tel.index_file)
    diff_rel = index.get("snapshot_diff_file")
    if diff_rel:
        try:
            diff = _load_json(os.path.join(run_dir, diff_rel))
            tel.snapshot_diff = diff if isinstance(diff, dict) else {}
        except (OSError, ValueError) as exc:
            tel.notes.append("snapshot diff %s cannot be read: %s" % (diff_rel, exc))
    return tel
