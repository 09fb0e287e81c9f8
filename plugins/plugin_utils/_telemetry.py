# -*- coding: utf-8 -*-
# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of host telemetry: turn the per-host files fetched after a phase into the run's
telemetry tree, index, start/end diff, cross-host consistency warnings and the metadata fields
``system_info``, ``cluster_snapshots`` and ``timeseries_data`` (rules.md section 8.3).

Plain Python, no Ansible objects.  Series files are streamed line by line, never loaded whole.

Layout written under the run directory ``collect_dir``::

    <benchmark>_<ts>_timeseries.json      index: hosts, files, samples, interval, gaps, phases
    telemetry/<host>.jsonl                one sample per line, as written by proc_sampler
    telemetry/<host>_snapshot_start.json  proc_facts snapshot before the phase
    telemetry/<host>_snapshot_end.json    and after it
    telemetry/snapshot_diff.json          start/end differences per host
    telemetry/summary.json                the telemetry_summary returned to the play
"""
from __future__ import annotations

import json
import os
import re
import shutil
import tarfile
import time

from ansible_collections.mlperf.storage.plugins.module_utils._engine import write_json_atomic

COLLECTION_METHOD = "ansible"
INDEX_SCHEMA = "mlperf-storage-telemetry-index/1"
STAGING_DIR = ".incoming"  # fetch lands files in telemetry/.incoming/<inventory host>/ or <host>.tgz
# what a host's window archive may hold (mlperf.storage.telemetry_window packs exactly these)
ARCHIVE_MEMBERS = ("series.jsonl", "snapshot_start.json", "snapshot_end.json")
GAPS_LISTED = 100
MEMORY_SPREAD_LIMIT = 0.10

# meminfo fields whose start/end change is worth showing
MEMORY_DIFF_FIELDS = ("MemTotal", "MemFree", "MemAvailable", "Cached", "Dirty", "Writeback", "SwapTotal",
                      "SwapFree", "Shmem", "AnonPages", "SReclaimable", "HugePages_Total")


class TelemetryError(Exception):
    """Bad arguments for building the telemetry tree; the message says what to fix."""


def safe_name(host):
    """A file-name-safe form of an inventory host name (results path segments must match
    ^[A-Za-z0-9._-]+$)."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "_", str(host)).strip(".")
    return cleaned or "host"


def utc_iso(epoch):
    """ISO-8601 UTC with milliseconds (phases at sub-second intervals need them)."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch)) + ".%03dZ" % int(round(epoch % 1 * 1000) % 1000)


# --------------------------------------------------------------------------- series

def scan_series(lines, target_interval=None):
    """Summarise one host's JSON-lines series from an iterable of lines (streamed).

    Gaps are recomputed from the timestamps, so a sampler that died still gets an honest
    account of what it covered.  An unparsable line (a SIGKILL can cut the last one) is counted
    and skipped.
    """
    samples = 0
    bad_lines = 0
    first = last = None
    previous_ts = None
    interval_sum = 0.0
    interval_max = None
    intervals = 0
    gaps = []
    gap_count = 0
    phases = {}
    phase_order = []
    for raw in lines:
        raw = raw.strip()
        if not raw:
            continue
        try:
            sample = json.loads(raw)
            ts = float(sample["ts"])
        except (ValueError, TypeError, KeyError):
            bad_lines += 1
            continue
        samples += 1
        if first is None:
            first = ts
        last = ts
        if previous_ts is not None:
            delta = ts - previous_ts
            intervals += 1
            interval_sum += delta
            interval_max = delta if interval_max is None else max(interval_max, delta)
            if target_interval and delta > 2 * target_interval:
                gap_count += 1
                if len(gaps) < GAPS_LISTED:
                    gaps.append({"after_seq": sample.get("seq", samples) - 1, "start": utc_iso(previous_ts),
                                 "seconds": round(delta, 3)})
        previous_ts = ts
        phase = sample.get("phase")
        phase_key = "" if phase is None else str(phase)
        entry = phases.get(phase_key)
        if entry is None:
            entry = phases[phase_key] = {"samples": 0, "first": ts, "last": ts}
            phase_order.append(phase_key)
        entry["samples"] += 1
        entry["last"] = ts
    return {
        "samples": samples,
        "bad_lines": bad_lines,
        "first_epoch": first,
        "last_epoch": last,
        "start_time": utc_iso(first) if first is not None else None,
        "end_time": utc_iso(last) if last is not None else None,
        "interval_mean": round(interval_sum / intervals, 4) if intervals else None,
        "interval_max": round(interval_max, 4) if interval_max is not None else None,
        "gaps": gap_count,
        "gap_list": gaps,
        "phases": [dict(name=name or None, samples=phases[name]["samples"], start_time=utc_iso(phases[name]["first"]),
                        end_time=utc_iso(phases[name]["last"])) for name in phase_order],
    }


def scan_series_file(path, target_interval=None):
    with open(path, "r", encoding="utf-8", errors="replace") as handle:
        return scan_series(handle, target_interval)


# --------------------------------------------------------------------------- snapshots

def _memory_section(meminfo):
    keys = (("total", "MemTotal"), ("available", "MemAvailable"), ("free", "MemFree"), ("active", "Active"),
            ("inactive", "Inactive"), ("buffers", "Buffers"), ("cached", "Cached"), ("shared", "Shmem"))
    memory = dict((out, meminfo[src]) for out, src in keys if src in meminfo)
    if "total" in memory and "available" in memory:
        memory["used"] = memory["total"] - memory["available"]
    return memory


def host_info(host, snapshot):
    """One ``system_info.hosts[]`` entry (the upstream ClusterInformation host shape) from a
    proc_facts snapshot."""
    cpuinfo = snapshot.get("cpuinfo", {})
    kernel = snapshot.get("kernel", {})
    loadavg = snapshot.get("loadavg", {})
    info = {
        "hostname": snapshot.get("hostname") or host,
        "inventory_hostname": host,
        "collection_timestamp": (snapshot.get("collected_at") or "")[:19] + "Z" if snapshot.get("collected_at") else None,
        "memory": _memory_section(snapshot.get("meminfo", {})),
        "cpu": {"num_cores": cpuinfo.get("cores"), "num_logical_cores": cpuinfo.get("threads"),
                "num_sockets": cpuinfo.get("sockets"), "model": cpuinfo.get("model"),
                "architecture": kernel.get("machine"), "flags_digest": cpuinfo.get("flags_digest")},
        "disks": [dict(device_name=name, **dict((k, v) for k, v in counters.items() if k not in ("major", "minor")))
                  for name, counters in sorted(snapshot.get("diskstats", {}).items())],
        "network": [dict(interface_name=name, **counters) for name, counters in sorted(snapshot.get("net_dev", {}).items())],
        "system": {"hostname": snapshot.get("hostname") or host, "kernel_version": kernel.get("version"),
                   "kernel_release": kernel.get("release"), "os_release": snapshot.get("os_release", {}),
                   "uptime_seconds": snapshot.get("uptime", {}).get("uptime_seconds"),
                   "load_average_1min": loadavg.get("load1"), "load_average_5min": loadavg.get("load5"),
                   "load_average_15min": loadavg.get("load15")},
        "filesystems": snapshot.get("paths", {}),
        "cgroup": snapshot.get("cgroup"),
    }
    return info


def host_consistency_issues(snapshots):
    """Warnings when clients differ in ways that skew a multi-client result: memory more than
    10 % apart, different core counts, CPU model, kernel release or OS."""
    issues = []
    if len(snapshots) < 2:
        return issues

    def by_value(getter):
        groups = {}
        for host in sorted(snapshots):
            value = getter(snapshots[host])
            if value is not None:
                groups.setdefault(value, []).append(host)
        return groups

    def describe(groups):
        return "; ".join("%s on %s" % (value, ", ".join(hosts)) for value, hosts in sorted(groups.items(), key=str))

    memory = dict((h, s.get("meminfo", {}).get("MemTotal")) for h, s in snapshots.items())
    known = dict((h, m) for h, m in memory.items() if m)
    if len(known) >= 2:
        low_host = min(known, key=lambda h: (known[h], h))
        high_host = max(known, key=lambda h: (known[h], h))
        low, high = known[low_host], known[high_host]
        if (high - low) / float(high) > MEMORY_SPREAD_LIMIT:
            issues.append("memory differs by more than %d%% between clients: %s has %.1f GiB, %s has %.1f GiB"
                          % (MEMORY_SPREAD_LIMIT * 100, low_host, low / 2.0 ** 30, high_host, high / 2.0 ** 30))
    checks = (
        ("physical core counts differ", lambda s: s.get("cpuinfo", {}).get("cores")),
        ("logical CPU counts differ", lambda s: s.get("cpuinfo", {}).get("threads")),
        ("CPU models differ", lambda s: s.get("cpuinfo", {}).get("model")),
        ("kernel releases differ", lambda s: s.get("kernel", {}).get("release")),
        ("operating systems differ", lambda s: " ".join(filter(None, (s.get("os_release", {}).get("ID"),
                                                                       s.get("os_release", {}).get("VERSION_ID"))))
         or None),
    )
    for message, getter in checks:
        groups = by_value(getter)
        if len(groups) > 1:
            issues.append("%s: %s" % (message, describe(groups)))
    return issues


def system_info(host_snapshots, collection_timestamp=None):
    """``system_info`` for the run metadata from one snapshot per host (rules.md 8.3)."""
    hosts = [host_info(h, host_snapshots[h]) for h in sorted(host_snapshots)]
    memories = [h["memory"].get("total") for h in hosts if h["memory"].get("total")]
    cores = [h["cpu"]["num_cores"] for h in hosts if h["cpu"].get("num_cores")]
    return {
        "total_memory_bytes": sum(memories),
        "total_cores": sum(cores),
        "num_hosts": len(hosts),
        "min_memory_bytes": min(memories) if memories else None,
        "max_memory_bytes": max(memories) if memories else None,
        "collection_method": COLLECTION_METHOD,
        "collection_timestamp": collection_timestamp or utc_iso(time.time()),
        "hosts": hosts,
        "host_consistency_issues": host_consistency_issues(host_snapshots),
    }


def _changed(before, after):
    return {"start": before, "end": after}


def _dict_diff(before, after):
    keys = sorted(set(before) | set(after))
    return dict((k, _changed(before.get(k), after.get(k))) for k in keys if before.get(k) != after.get(k))


def diff_snapshots(start, end):
    """What changed on one host between the start and end snapshots: mounts, memory, kernel,
    tunables, block queue settings of the described paths, cgroup limits, and a reboot."""
    diff = {}
    start_mounts = dict((m["mountpoint"], m) for m in start.get("mounts", []))
    end_mounts = dict((m["mountpoint"], m) for m in end.get("mounts", []))
    mounts = {
        "added": sorted(set(end_mounts) - set(start_mounts)),
        "removed": sorted(set(start_mounts) - set(end_mounts)),
        "changed": dict((p, _changed({"device": start_mounts[p]["device"], "fstype": start_mounts[p]["fstype"],
                                      "options": start_mounts[p]["options"]},
                                     {"device": end_mounts[p]["device"], "fstype": end_mounts[p]["fstype"],
                                      "options": end_mounts[p]["options"]}))
                        for p in sorted(set(start_mounts) & set(end_mounts))
                        if (start_mounts[p]["device"], start_mounts[p]["fstype"], start_mounts[p]["options"])
                        != (end_mounts[p]["device"], end_mounts[p]["fstype"], end_mounts[p]["options"])),
    }
    if any(mounts.values()):
        diff["mounts"] = mounts

    start_mem, end_mem = start.get("meminfo", {}), end.get("meminfo", {})
    memory = dict((k, {"start": start_mem[k], "end": end_mem[k], "delta": end_mem[k] - start_mem[k]})
                  for k in MEMORY_DIFF_FIELDS if k in start_mem and k in end_mem and start_mem[k] != end_mem[k])
    if memory:
        diff["memory"] = memory

    kernel = _dict_diff(dict((k, v) for k, v in start.get("kernel", {}).items()),
                        dict((k, v) for k, v in end.get("kernel", {}).items()))
    if kernel:
        diff["kernel"] = kernel
    start_tun, end_tun = start.get("tunables", {}), end.get("tunables", {})
    tunables = _dict_diff(start_tun.get("sysctl", {}), end_tun.get("sysctl", {}))
    for key in ("transparent_hugepage", "cpu_governors"):
        if start_tun.get(key) != end_tun.get(key):
            tunables[key] = _changed(start_tun.get(key), end_tun.get(key))
    mtu = _dict_diff(start_tun.get("mtu", {}), end_tun.get("mtu", {}))
    if mtu:
        tunables["mtu"] = mtu
    if tunables:
        diff["tunables"] = tunables

    paths = {}
    for name in sorted(set(start.get("paths", {})) | set(end.get("paths", {}))):
        before = start.get("paths", {}).get(name) or {}
        after = end.get("paths", {}).get(name) or {}
        changes = {}
        for key in ("mountpoint", "fstype", "device", "exists"):
            if before.get(key) != after.get(key):
                changes[key] = _changed(before.get(key), after.get(key))
        queue = _dict_diff(dict((k, v) for k, v in (before.get("block_device") or {}).items() if k != "slaves"),
                           dict((k, v) for k, v in (after.get("block_device") or {}).items() if k != "slaves"))
        if queue:
            changes["block_device"] = queue
        if changes:
            paths[name] = changes
    if paths:
        diff["paths"] = paths

    start_limits = (start.get("cgroup") or {}).get("limits", {})
    end_limits = (end.get("cgroup") or {}).get("limits", {})
    cgroup = _dict_diff(start_limits, end_limits)
    if cgroup:
        diff["cgroup_limits"] = cgroup

    start_boot = start.get("stat", {}).get("btime")
    end_boot = end.get("stat", {}).get("btime")
    if start_boot and end_boot and abs(end_boot - start_boot) > 2:  # btime jitters by a second
        diff["rebooted"] = True
    if start.get("cpuinfo", {}).get("threads") != end.get("cpuinfo", {}).get("threads"):
        diff["cpu_threads"] = _changed(start.get("cpuinfo", {}).get("threads"), end.get("cpuinfo", {}).get("threads"))
    return diff


def _load_json(path, warnings, what):
    try:
        with open(path, "r", encoding="utf-8") as handle:
            return json.load(handle)
    except (IOError, OSError) as exc:
        warnings.append("%s: cannot read %s: %s" % (what, path, exc.strerror or exc))
    except ValueError as exc:
        warnings.append("%s: %s is not valid JSON (%s)" % (what, path, exc))
    return None


# --------------------------------------------------------------------------- the whole run

def _check_arguments(collect_dir, benchmark, timestamp, host_results):
    problems = []
    if not collect_dir or not os.path.isabs(str(collect_dir)):
        problems.append("collect_dir must be an absolute directory on the controller (got %r)" % (collect_dir,))
    if not benchmark or not re.match(r"^[A-Za-z0-9._-]+$", str(benchmark)):
        problems.append("benchmark must be a name such as 'training' (letters, digits, . _ -; got %r)" % (benchmark,))
    if not timestamp or not re.match(r"^\d{8}_\d{6}$", str(timestamp)):
        problems.append("timestamp must look like YYYYMMDD_HHMMSS, as the run directory does (got %r)" % (timestamp,))
    if not isinstance(host_results, list):
        problems.append("host_results must be a list with one entry per host (got %s)" % type(host_results).__name__)
    else:
        for position, entry in enumerate(host_results):
            if not isinstance(entry, dict) or not entry.get("host"):
                problems.append("host_results[%d] must be a mapping with at least 'host' (got %r); set it with "
                                "the telemetry role's stop entry point" % (position, entry))
    if problems:
        raise TelemetryError("; ".join(problems))


def unpack_host_archive(archive, dest, warnings, host):
    """Unpack a host's window archive into its staging folder: only the known member names, as regular files
    (the archive comes from a host, which is not trusted to name paths on the controller)."""
    if not os.path.isfile(archive):
        return
    try:
        with tarfile.open(archive, "r:gz") as packed:
            os.makedirs(dest, exist_ok=True)
            for member in packed.getmembers():
                if member.name not in ARCHIVE_MEMBERS or not member.isfile():
                    warnings.append("%s: archive member %r ignored" % (host, member.name))
                    continue
                source = packed.extractfile(member)
                with open(os.path.join(dest, member.name), "wb") as out:
                    shutil.copyfileobj(source, out)
    except (tarfile.TarError, EOFError, OSError) as exc:
        warnings.append("%s: the telemetry archive cannot be read (%s); its series and snapshots are missing"
                        % (host, exc))
    finally:
        try:
            os.unlink(archive)
        except OSError:
            pass


def build_run_telemetry(collect_dir, benchmark, timestamp, host_results, hosts_requested=None,
                        interval=None, now=None):
    """Assemble the telemetry tree of one run and return ``telemetry_summary``.

    ``host_results``: one dict per host that reached the stop step, with ``host``, ``label``,
    ``sampler`` (the sampler's summary, or the failed async result), ``sampler_failed`` and
    ``error``.  Their files are expected under ``telemetry/.incoming/<host>/`` (series.jsonl,
    snapshot_start.json, snapshot_end.json) and are moved to their final names.
    """
    _check_arguments(collect_dir, benchmark, timestamp, host_results)
    now = time.time() if now is None else now
    telemetry_dir = os.path.join(collect_dir, "telemetry")
    staging = os.path.join(telemetry_dir, STAGING_DIR)
    os.makedirs(telemetry_dir, exist_ok=True)

    warnings = []
    hosts_requested = list(hosts_requested or [r["host"] for r in host_results])
    reached = [r["host"] for r in host_results]
    for host in hosts_requested:
        if host not in reached:
            warnings.append("%s: no telemetry (the host failed or was unreachable before telemetry stop)" % host)

    used_names = {}
    snapshot_warnings = set()
    index_hosts = {}
    starts = {}
    ends = {}
    diffs = {}
    phase_totals = {}
    for result in sorted(host_results, key=lambda r: str(r["host"])):
        host = str(result["host"])
        name = safe_name(host)
        if name in used_names:  # two inventory names that sanitise alike
            name = "%s_%d" % (name, len(used_names))
        used_names[name] = host
        incoming = os.path.join(staging, host)
        unpack_host_archive(incoming + ".tgz", incoming, warnings, host)
        sampler = result.get("sampler") or {}
        target = interval or sampler.get("interval_target")
        entry = {"file": None, "samples": 0, "sampler_failed": bool(result.get("sampler_failed")),
                 "stop_reason": sampler.get("stop_reason"), "error": result.get("error"), "snapshots": {}}
        if not entry["sampler_failed"] and entry["stop_reason"] not in (None, "stop_file"):
            warnings.append("%s: the sampler stopped on its own (%s) before telemetry stop; the end of the phase "
                            "is not covered - raise telemetry_max_duration" % (host, entry["stop_reason"]))
        if entry["sampler_failed"]:
            warnings.append("%s: sampler failed (%s); its series ends early or is missing"
                            % (host, result.get("error") or sampler.get("msg") or "no reason given"))

        series_src = os.path.join(incoming, "series.jsonl")
        if os.path.isfile(series_src):
            final = os.path.join(telemetry_dir, name + ".jsonl")
            shutil.move(series_src, final)
            scan = scan_series_file(final, target)
            entry.update({"file": os.path.relpath(final, collect_dir), "samples": scan["samples"],
                          "start_time": scan["start_time"], "end_time": scan["end_time"],
                          "interval_mean": scan["interval_mean"], "interval_max": scan["interval_max"],
                          "gaps": scan["gaps"], "gap_list": scan["gap_list"], "phases": scan["phases"],
                          "_first": scan["first_epoch"], "_last": scan["last_epoch"]})
            if scan["bad_lines"]:
                warnings.append("%s: %d unreadable line(s) skipped in %s (a killed sampler cuts its last line)"
                                % (host, scan["bad_lines"], entry["file"]))
            if scan["gaps"]:
                warnings.append("%s: %d gap(s) longer than twice the %.2f s interval, longest %.1f s"
                                % (host, scan["gaps"], target, max(g["seconds"] for g in scan["gap_list"])))
            if scan["samples"] == 0:
                warnings.append("%s: the series file holds no samples" % host)
            for phase in scan["phases"]:
                total = phase_totals.setdefault(phase["name"], {"name": phase["name"], "samples": 0, "hosts": [],
                                                                "start_time": phase["start_time"],
                                                                "end_time": phase["end_time"]})
                total["samples"] += phase["samples"]
                total["hosts"].append(host)
                total["start_time"] = min(total["start_time"], phase["start_time"])
                total["end_time"] = max(total["end_time"], phase["end_time"])
        else:
            warnings.append("%s: no series file was fetched" % host)

        for which, store in (("start", starts), ("end", ends)):
            src = os.path.join(incoming, "snapshot_%s.json" % which)
            if not os.path.isfile(src):
                warnings.append("%s: no %s snapshot was fetched" % (host, which))
                continue
            final = os.path.join(telemetry_dir, "%s_snapshot_%s.json" % (name, which))
            shutil.move(src, final)
            snapshot = _load_json(final, warnings, host)
            if snapshot is not None:
                store[host] = snapshot
                entry["snapshots"][which] = os.path.relpath(final, collect_dir)
                for message in snapshot.get("warnings", []):
                    if (host, message) not in snapshot_warnings:  # same unreadable file at start and end
                        snapshot_warnings.add((host, message))
                        warnings.append("%s (%s snapshot): %s" % (host, which, message))
        if host in starts and host in ends:
            diffs[host] = diff_snapshots(starts[host], ends[host])
        index_hosts[host] = entry

    if os.path.isdir(staging):
        shutil.rmtree(staging, ignore_errors=True)

    collected = [h for h in sorted(index_hosts) if index_hosts[h]["samples"] > 0]
    firsts = [e["_first"] for e in index_hosts.values() if e.get("_first") is not None]
    lasts = [e["_last"] for e in index_hosts.values() if e.get("_last") is not None]
    for entry in index_hosts.values():
        entry.pop("_first", None)
        entry.pop("_last", None)
    targets = [r.get("sampler", {}).get("interval_target") for r in host_results if r.get("sampler")]
    interval_seconds = interval or next((t for t in targets if t), None)
    num_samples = max([e["samples"] for e in index_hosts.values()] or [0])

    diff_file = os.path.join(telemetry_dir, "snapshot_diff.json")
    write_json_atomic(diff_file, diffs)
    for host in sorted(diffs):
        changed = sorted(k for k in diffs[host] if k != "memory")
        if changed:
            warnings.append("%s: changed between start and end: %s" % (host, ", ".join(changed)))

    start_info = system_info(starts, utc_iso(min(s.get("collected_epoch", now) for s in starts.values()))
                             if starts else None)
    issues = start_info["host_consistency_issues"]
    warnings.extend(issues)

    index_name = "%s_%s_timeseries.json" % (benchmark, timestamp)
    index = {
        "schema": INDEX_SCHEMA,
        "collection_method": COLLECTION_METHOD,
        "format": "jsonl",
        "collection_interval_seconds": interval_seconds,
        "start_time": utc_iso(min(firsts)) if firsts else None,
        "end_time": utc_iso(max(lasts)) if lasts else None,
        "num_samples": num_samples,
        "num_samples_all_hosts": sum(e["samples"] for e in index_hosts.values()),
        "hosts_requested": hosts_requested,
        "hosts_collected": collected,
        "hosts": index_hosts,
        "phases": sorted(phase_totals.values(), key=lambda p: (p["start_time"], str(p["name"]))),
        "snapshot_diff_file": os.path.relpath(diff_file, collect_dir),
        "host_consistency_issues": issues,
        "warnings": warnings,
    }
    write_json_atomic(os.path.join(collect_dir, index_name), index)

    summary = {
        "cluster_snapshots": {
            "start": start_info if starts else None,
            "end": system_info(ends, utc_iso(max(s.get("collected_epoch", now) for s in ends.values())))
            if ends else None,
            "collection_method": COLLECTION_METHOD,
        },
        "timeseries_data": {
            "file": index_name,
            "num_samples": num_samples,
            "interval_seconds": interval_seconds,
            "hosts_collected": collected,
        },
        "system_info": start_info,
        "snapshot_diff": diffs,
        "sampler_failed": sorted(h for h, e in index_hosts.items() if e["sampler_failed"]),
        "warnings": warnings,
    }
    write_json_atomic(os.path.join(telemetry_dir, "summary.json"), summary)
    return summary


# --------------------------------------------------------------------------- a run set: one window, many runs

def run_windows(runs):
    """Sample-time windows of the runs of a set, in order: run k holds the samples from its reservation
    (``start_epoch``; the first run from the start of the series) up to the next run's reservation (the last run
    to the end of the series). Every sample lands in exactly one run, the time between runs with the run before."""
    windows = []
    for position, run in enumerate(runs):
        start = None if position == 0 else float(run["start_epoch"])
        end = float(runs[position + 1]["start_epoch"]) if position + 1 < len(runs) else None
        windows.append((start, end))
    return windows


def split_series(lines, runs, outputs):
    """Stream one host's series (lines) into one writable per run (``outputs``), by sample time, with each sample's
    phase set to its run's ``phase`` (the label the run's sampler would have carried on its own). An unreadable
    line goes with the run of the sample before it. Returns the number of samples written per run."""
    windows = run_windows(runs)
    counts = [0] * len(runs)
    position = 0
    for raw in lines:
        stripped = raw.strip()
        if not stripped:
            continue
        try:
            sample = json.loads(stripped)
            ts = float(sample["ts"])
        except (ValueError, TypeError, KeyError):
            outputs[position].write(stripped + "\n")
            continue
        position = next((i for i, (start, end) in enumerate(windows)
                         if (start is None or ts >= start) and (end is None or ts < end)), position)
        sample["phase"] = runs[position]["phase"]
        outputs[position].write(json.dumps(sample, sort_keys=True) + "\n")
        counts[position] += 1
    return counts


def derived_snapshot(snapshot, which, number, total):
    """A run's start or end snapshot taken from the set's: the same content, marked as taken around the whole set
    (only run 1's start and the last run's end were taken at the run's own boundary)."""
    genuine = (which == "start" and number == 1) or (which == "end" and number == total)
    if genuine or snapshot is None:
        return snapshot
    marked = dict(snapshot)
    marked["run_set"] = {"derived": True, "run": number, "runs": total,
                         "taken": "before run 1" if which == "start" else "after run %d" % total,
                         "note": "one %s snapshot per host is taken for the whole run set" % which}
    return marked


def build_run_set_telemetry(runs, benchmark, host_results, staging, hosts_requested=None, interval=None):
    """Split one telemetry window that spanned a run set into each run's telemetry tree; return
    ``{timestamp: telemetry_summary}``.

    ``runs``: in order, one dict per run with ``collect_dir`` (the run directory on the controller),
    ``timestamp``, ``phase`` (its phase label) and ``start_epoch`` (when it was reserved). ``staging``: where the
    hosts' window archives were fetched (``<staging>/<host>.tgz``). Each run then gets, per host, its slice of the
    series and the set's snapshots (marked where derived), and ``build_run_telemetry`` writes its tree as for a run
    of its own (same file names).
    """
    if not isinstance(runs, list) or not runs:
        raise TelemetryError("runs must be a non-empty list with collect_dir, timestamp, phase and start_epoch "
                             "per run (got %r)" % (runs,))
    for position, run in enumerate(runs):
        missing = [k for k in ("collect_dir", "timestamp", "phase", "start_epoch")
                   if not isinstance(run, dict) or run.get(k) in (None, "")]
        if missing:
            raise TelemetryError("runs[%d] lacks %s" % (position, ", ".join(missing)))
    for run in runs:
        _check_arguments(run["collect_dir"], benchmark, run["timestamp"], host_results)
    warnings = []
    unpacked = os.path.join(staging, "unpacked")
    total = len(runs)
    for result in host_results:
        host = str(result["host"])
        source_dir = os.path.join(unpacked, host)
        unpack_host_archive(os.path.join(staging, host + ".tgz"), source_dir, warnings, host)
        dests = [os.path.join(run["collect_dir"], "telemetry", STAGING_DIR, host) for run in runs]
        for dest in dests:
            os.makedirs(dest, exist_ok=True)
        series = os.path.join(source_dir, "series.jsonl")
        if os.path.isfile(series):
            handles = [open(os.path.join(dest, "series.jsonl"), "w", encoding="utf-8") for dest in dests]
            try:
                with open(series, "r", encoding="utf-8", errors="replace") as lines:
                    split_series(lines, runs, handles)
            finally:
                for handle in handles:
                    handle.close()
        for which in ("start", "end"):
            src = os.path.join(source_dir, "snapshot_%s.json" % which)
            if not os.path.isfile(src):
                continue
            snapshot = _load_json(src, warnings, host)
            for number, dest in enumerate(dests, 1):
                if snapshot is None:
                    shutil.copyfile(src, os.path.join(dest, "snapshot_%s.json" % which))
                else:
                    write_json_atomic(os.path.join(dest, "snapshot_%s.json" % which),
                                derived_snapshot(snapshot, which, number, total))
    shutil.rmtree(staging, ignore_errors=True)
    summaries = {}
    for run in runs:
        summary = build_run_telemetry(run["collect_dir"], benchmark, str(run["timestamp"]), host_results,
                                      hosts_requested=hosts_requested, interval=interval)
        if warnings:
            summary["warnings"] = warnings + summary["warnings"]
            write_json_atomic(os.path.join(run["collect_dir"], "telemetry", "summary.json"), summary)
        summaries[str(run["timestamp"])] = summary
    return summaries
