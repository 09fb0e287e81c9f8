# -*- coding: utf-8 -*-
# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Background /proc sampler: one long-lived process per host appending one JSON line per sample.

Runs on target hosts: Python 3.9+ standard library only.  Memory stays bounded whatever the
duration: only the previous raw counters and a capped list of gaps are kept; the series itself
lives in the output file, which is flushed after every line so a SIGKILL loses at most the sample
being written.
"""
from __future__ import annotations

import errno
import fcntl
import json
import os
import re
import signal
import socket
import time

from ansible_collections.mlperf.storage.plugins.module_utils._procfs import (
    SECTOR_BYTES,
    ProcReader,
    is_partition_name,
    is_virtual_disk_name,
    parse_diskstats,
    parse_loadavg,
    parse_meminfo,
    parse_net_dev,
    parse_stat,
    utc_iso,
)

MIN_INTERVAL = 0.1
MAX_GAPS_KEPT = 100  # gaps beyond this are counted, not listed
STOP_POLL = 0.25  # seconds between stop-file checks while waiting for the next tick

STOP_FILE = "stop_file"
MAX_DURATION = "max_duration"
MAX_SAMPLES = "max_samples"
DEADLINE = "deadline"
WATCHED_PROCESS_EXITED = "watched_process_exited"
SIGNAL = "signal"


class SamplerError(Exception):
    """A configuration or file problem that prevents sampling; the message says how to fix it."""


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except OSError as exc:
        return exc.errno == errno.EPERM  # exists but belongs to someone else
    # a zombie has exited but keeps its pid until reaped
    try:
        with open("/proc/%d/stat" % pid) as handle:
            return handle.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except (IOError, OSError, IndexError):
        return True


def async_time_limit(parent_cmdline):
    """The ``async`` ceiling from the NUL-separated command line of the process that started this
    one, when that is Ansible's async_wrapper (``async_wrapper.py <jid> <time_limit> ...``)."""
    args = parent_cmdline.split("\0")
    for position, arg in enumerate(args):
        if os.path.basename(arg) in ("async_wrapper.py", "async_wrapper") and len(args) > position + 2:
            value = args[position + 2]
            return int(value) if value.isdigit() and int(value) > 0 else None
    return None


def duration_within_ceiling(max_duration, ceiling):
    """max_duration lowered, when needed, to end a few seconds before the async ceiling so the
    sampler exits and reports instead of being SIGKILLed by the wrapper."""
    if not ceiling:
        return max_duration
    limit = ceiling - min(5.0, ceiling * 0.1)
    return min(max_duration, limit)


def _rate(new, old, seconds):
    delta = new - old
    if delta < 0:  # counter wrapped or device was reset: no honest rate for this interval
        return None
    return round(delta / seconds, 3)


def cpu_percentages(new, old):
    """Aggregate CPU use between two /proc/stat ``cpu`` readings, in percent."""
    deltas = dict((k, new.get(k, 0) - old.get(k, 0)) for k in new)
    # guest time is already included in user/nice
    total = sum(v for k, v in deltas.items() if k not in ("guest", "guest_nice"))
    if total <= 0:
        return None

    def pct(*names):
        return round(100.0 * sum(max(deltas.get(n, 0), 0) for n in names) / total, 2)

    return {
        "user": pct("user", "nice"),
        "system": pct("system", "irq", "softirq"),
        "iowait": pct("iowait"),
        "steal": pct("steal"),
        "idle": pct("idle"),
    }


def disk_rates(new, old, seconds, include):
    """Per-device throughput, IOPS and utilisation between two /proc/diskstats readings."""
    result = {}
    for name, cur in new.items():
        prev = old.get(name)
        if prev is None or not include(name):
            continue
        util = _rate(cur["time_doing_ios_ms"], prev["time_doing_ios_ms"], seconds * 10.0)  # ms/s -> %
        result[name] = {
            "read_bytes_per_s": _scaled(_rate(cur["sectors_read"], prev["sectors_read"], seconds), SECTOR_BYTES),
            "write_bytes_per_s": _scaled(_rate(cur["sectors_written"], prev["sectors_written"], seconds),
                                         SECTOR_BYTES),
            "read_iops": _rate(cur["reads_completed"], prev["reads_completed"], seconds),
            "write_iops": _rate(cur["writes_completed"], prev["writes_completed"], seconds),
            "util_pct": None if util is None else min(round(util, 2), 100.0),
            "in_flight": cur["ios_in_progress"],
        }
    return result


def _scaled(value, factor):
    return None if value is None else round(value * factor, 1)


def net_rates(new, old, seconds, include):
    result = {}
    for name, cur in new.items():
        prev = old.get(name)
        if prev is None or not include(name):
            continue
        result[name] = {
            "rx_bytes_per_s": _rate(cur["rx_bytes"], prev["rx_bytes"], seconds),
            "tx_bytes_per_s": _rate(cur["tx_bytes"], prev["tx_bytes"], seconds),
        }
    return result


def memory_summary(meminfo):
    keys = (("total", "MemTotal"), ("free", "MemFree"), ("available", "MemAvailable"), ("cached", "Cached"),
            ("buffers", "Buffers"), ("dirty", "Dirty"), ("writeback", "Writeback"))
    result = dict((out, meminfo[src]) for out, src in keys if src in meminfo)
    if "total" in result and "available" in result:
        result["used"] = result["total"] - result["available"]
    return result


def device_filter(device_regex=None, skip_virtual=True):
    """Predicate for disk names: an explicit regex wins; otherwise partitions and loop/ram/zram
    devices are skipped (their traffic is counted on the whole disk or is not storage)."""
    if device_regex:
        pattern = re.compile(device_regex)
        return lambda name: bool(pattern.search(name))
    if skip_virtual:
        return lambda name: not (is_partition_name(name) or is_virtual_disk_name(name))
    return lambda name: True


def interface_filter(interface_regex=None):
    if interface_regex:
        pattern = re.compile(interface_regex)
        return lambda name: bool(pattern.search(name))
    return lambda name: True


class Sampler:
    """Samples until a stop condition holds; see :meth:`run`.

    ``clock``/``sleep``/``reader`` are injectable for tests; ``clock`` must be monotonic and
    ``wall`` gives the epoch used in the samples' timestamps.
    """

    def __init__(self, path, interval=1.0, stop_file=None, phase_file=None, label=None,
                 max_duration=3600.0, max_samples=0, watch_pid=None, deadline=None,
                 device_regex=None, skip_virtual_devices=True, interface_regex=None,
                 pid_file=None, reader=None, clock=time.monotonic, wall=time.time, sleep=time.sleep):
        if interval is None or interval < MIN_INTERVAL:
            raise SamplerError("interval must be at least %.1f s (got %r); raise it" % (MIN_INTERVAL, interval))
        if max_duration is None or max_duration <= 0:
            raise SamplerError("max_duration must be a positive number of seconds (got %r): a sampler "
                               "always needs a time limit so an interrupted playbook cannot leave it "
                               "running" % (max_duration,))
        if max_samples is not None and max_samples < 0:
            raise SamplerError("max_samples must be 0 (no limit) or positive (got %r)" % (max_samples,))
        for name, regex in (("device_regex", device_regex), ("interface_regex", interface_regex)):
            if regex:
                try:
                    re.compile(regex)
                except re.error as exc:
                    raise SamplerError("%s %r is not a valid regular expression: %s" % (name, regex, exc))
        self.path = path
        self.interval = float(interval)
        self.stop_file = stop_file
        self.phase_file = phase_file
        self.label = label
        self.max_duration = float(max_duration)
        self.max_samples = int(max_samples or 0)
        self.watch_pid = watch_pid
        self.deadline = deadline
        self.pid_file = pid_file
        self.include_disk = device_filter(device_regex, skip_virtual_devices)
        self.include_net = interface_filter(interface_regex)
        self.reader = reader or ProcReader("/")
        self.clock = clock
        self.wall = wall
        self.sleep = sleep
        self.hostname = socket.gethostname()
        self._signalled = None

    # ------------------------------------------------------------------ inputs

    def _read_counters(self):
        counters = {}
        for key, relative, parser in (("stat", "proc/stat", parse_stat),
                                      ("disk", "proc/diskstats", parse_diskstats),
                                      ("mem", "proc/meminfo", parse_meminfo),
                                      ("net", "proc/net/dev", parse_net_dev),
                                      ("load", "proc/loadavg", parse_loadavg)):
            text = self.reader.read(relative)
            counters[key] = parser(text) if text is not None else None
        return counters

    def _phase(self):
        if self.phase_file:
            try:
                with open(self.phase_file, "r", encoding="utf-8", errors="replace") as handle:
                    phase = handle.read(256).strip()
                if phase:
                    return phase
            except (IOError, OSError):
                pass
        return self.label

    def build_sample(self, seq, now_wall, seconds, new, old):
        sample = {"seq": seq, "ts": round(now_wall, 3), "time": utc_iso(now_wall), "dt": round(seconds, 4),
                  "host": self.hostname, "phase": self._phase()}
        if new["stat"] and old["stat"] and "cpu" in new["stat"] and "cpu" in old["stat"]:
            sample["cpu"] = cpu_percentages(new["stat"]["cpu"], old["stat"]["cpu"])
        if new["mem"]:
            sample["mem"] = memory_summary(new["mem"])
        if new["load"]:
            sample["load"] = [new["load"].get(k) for k in ("load1", "load5", "load15")]
        if new["disk"] is not None and old["disk"] is not None:
            sample["disk"] = disk_rates(new["disk"], old["disk"], seconds, self.include_disk)
        if new["net"] is not None and old["net"] is not None:
            sample["net"] = net_rates(new["net"], old["net"], seconds, self.include_net)
        return sample

    # ------------------------------------------------------------------ control

    def _stop_reason(self, started, samples):
        if self._signalled:
            return SIGNAL
        if self.stop_file and os.path.exists(self.stop_file):
            return STOP_FILE
        if self.max_samples and samples >= self.max_samples:
            return MAX_SAMPLES
        if self.clock() - started >= self.max_duration:
            return MAX_DURATION
        if self.deadline is not None and self.wall() >= self.deadline:
            return DEADLINE
        if self.watch_pid and not pid_alive(self.watch_pid):
            return WATCHED_PROCESS_EXITED
        return None

    def _on_signal(self, signum, frame):
        self._signalled = signum

    def _open_output(self):
        directory = os.path.dirname(os.path.abspath(self.path))
        if not os.path.isdir(directory):
            raise SamplerError("output directory %s does not exist; create it before starting the sampler"
                               % directory)
        try:
            handle = open(self.path, "a", encoding="utf-8")
        except (IOError, OSError) as exc:
            raise SamplerError("cannot open %s for writing: %s" % (self.path, exc.strerror or exc))
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except (IOError, OSError):
            handle.close()
            raise SamplerError("another sampler is already writing %s; stop it first or give this phase its "
                               "own file" % self.path)
        # locked: only now is it safe to drop what an earlier run with the same path left
        handle.truncate(0)
        return handle

    def _remove_stale_stop_file(self):
        if self.stop_file and os.path.exists(self.stop_file):
            try:
                os.unlink(self.stop_file)
            except OSError as exc:
                raise SamplerError("a stop file from an earlier run is present at %s and cannot be removed "
                                   "(%s); remove it by hand" % (self.stop_file, exc.strerror or exc))

    def run(self):
        """Sample until stopped; returns the summary dict.  Raises SamplerError before the first
        sample when the output cannot be written."""
        self._remove_stale_stop_file()
        handle = self._open_output()
        previous_handlers = {}
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            try:
                previous_handlers[signum] = signal.signal(signum, self._on_signal)
            except ValueError:  # not the main thread (tests)
                pass
        if self.pid_file:
            with open(self.pid_file, "w") as pid_handle:
                pid_handle.write("%d\n" % os.getpid())
        try:
            return self._loop(handle)
        finally:
            handle.close()
            for signum, handler in previous_handlers.items():
                signal.signal(signum, handler)
            # the pid file stays: it marks "this sampler started", so a waiter never blocks on a
            # sampler that already ended; whoever starts the next one removes it first

    def _loop(self, handle):
        started = self.clock()
        previous = self._read_counters()
        previous_at = started
        samples = 0
        first_ts = last_ts = None
        interval_sum = 0.0
        interval_max = 0.0
        gaps = []
        gap_count = 0
        tick = 1
        stop_reason = None
        while True:
            stop_reason = self._stop_reason(started, samples)
            if stop_reason:
                break
            target = started + tick * self.interval
            wait = target - self.clock()
            while wait > 0:
                self.sleep(min(wait, STOP_POLL))
                stop_reason = self._stop_reason(started, samples)
                if stop_reason:
                    break
                wait = target - self.clock()
            if stop_reason:
                break
            now = self.clock()
            now_wall = self.wall()
            current = self._read_counters()
            seconds = now - previous_at
            if seconds <= 0:
                seconds = self.interval
            samples += 1
            sample = self.build_sample(samples, now_wall, seconds, current, previous)
            handle.write(json.dumps(sample, sort_keys=True, separators=(",", ":")) + "\n")
            handle.flush()
            if first_ts is None:
                first_ts = now_wall
            last_ts = now_wall
            interval_sum += seconds
            interval_max = max(interval_max, seconds)
            if seconds > 2 * self.interval:
                gap_count += 1
                if len(gaps) < MAX_GAPS_KEPT:
                    gaps.append({"after_seq": samples - 1, "at": utc_iso(now_wall - seconds),
                                 "seconds": round(seconds, 3)})
            previous, previous_at = current, now
            # after a stall, skip the ticks that were missed instead of sampling in a burst
            tick = max(tick + 1, int((self.clock() - started) / self.interval) + 1)
        return {
            "path": self.path,
            "label": self.label,
            "samples": samples,
            "interval_target": self.interval,
            "interval_mean": round(interval_sum / samples, 4) if samples else None,
            "interval_max": round(interval_max, 4) if samples else None,
            "gaps": gap_count,
            "gap_list": gaps,
            "stop_reason": stop_reason,
            "first_timestamp": utc_iso(first_ts) if first_ts is not None else None,
            "last_timestamp": utc_iso(last_ts) if last_ts is not None else None,
            "duration": round(self.clock() - started, 3),
            "pid": os.getpid(),
            "warnings": list(self.reader.warnings),
        }
