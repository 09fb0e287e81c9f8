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

from ansible_collections.mlperf.storage.plugins.module_utils._engine import write_json_atomic
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


def _both_readings(new, old, include):
    """(name, new reading, old reading) of each device that ``include`` keeps and that both readings have."""
    for name, cur in new.items():
        prev = old.get(name)
        if prev is not None and include(name):
            yield name, cur, prev


def disk_rates(new, old, seconds, include):
    """Per-device throughput, IOPS and utilisation between two /proc/diskstats readings."""
    result = {}
    for name, cur, prev in _both_readings(new, old, include):
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
    return dict((name, {"rx_bytes_per_s": _rate(cur["rx_bytes"], prev["rx_bytes"], seconds),
                        "tx_bytes_per_s": _rate(cur["tx_bytes"], prev["tx_bytes"], seconds)})
                for name, cur, prev in _both_readings(new, old, include))


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
                 pid_file=None, summary_file=None, reader=None, clock=time.monotonic, wall=time.time,
                 sleep=time.sleep):
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
        self.summary_file = summary_file
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
            summary = self._loop(handle)
        finally:
            handle.close()
            for signum, handler in previous_handlers.items():
                signal.signal(signum, handler)
            # the pid file stays: it marks "this sampler started", so a waiter never blocks on a
            # sampler that already ended; whoever starts the next one removes it first
        if self.summary_file:
            # whoever stops the sampler reads how it ended here, without a round trip for its async job
            write_json_atomic(self.summary_file, summary)
        return summary

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


# ---------------------------------------------------------------------- stopping a sampler by its pid file
#
# The pid file lives in a working directory; whoever stops the sampler may be root (become). Its
# content is therefore never trusted: it must be one positive pid, of a live process owned by the
# user doing the stopping, that is this phase's sampler - the process holding this phase's series
# file open and, when a token is given, started with that token in its environment.

TOKEN_ENV = "MLPERF_SAMPLER_TOKEN"


def token_problem(token):
    """Why a sampler started with ``token`` could not be recognised when stopped (None when it can): the token
    must be in the starting process's environment, which the sampler inherits."""
    if token and os.environ.get(TOKEN_ENV) != token:
        return ("token is set but this process was not started with %s=<token> in its environment; add it to the "
                "task's environment keyword so the sampler can be recognised when it is stopped" % TOKEN_ENV)
    return None


def sampler_options():
    """The argument spec of a sampler's settings, shared by the modules that start one."""
    return dict(
        interval=dict(type="float", default=1.0),
        max_duration=dict(type="float", default=3600.0),
        deadline=dict(type="float"),
        watch_pid=dict(type="int"),
        device_regex=dict(type="str"),
        interface_regex=dict(type="str"),
    )


def start_detached(sampler):
    """Run ``sampler`` in a process of its own that outlives the caller; returns that process's pid.

    The telemetry window starts its sampler this way in the same task that opens it, instead of one more task
    under Ansible's async wrapper (and one more to forget the async job): the caller is a module whose process
    ends right after, so the sampler is forked twice (the middle process leads a new session and exits at
    once), keeps nothing of the caller's standard streams or other descriptors (an SSH channel or the
    controller's pipe would otherwise stay open until the sampler ends), and imports nothing after the fork:
    the module's own files may be gone by then. The sampler reports as it does otherwise: its pid file once
    it runs, its summary file when it ends, with ``{"error": ...}`` in the summary when it cannot start. The
    environment (the token included) is the caller's.
    """
    read_end, write_end = os.pipe()
    middle = os.fork()
    if middle:
        os.close(write_end)
        os.waitpid(middle, 0)
        with os.fdopen(read_end, "rb") as reader:
            text = reader.read().decode("ascii", "replace").strip()
        if not text.isdigit():
            raise SamplerError("the sampler process could not be started")
        return int(text)
    # the middle process and the sampler leave through os._exit only: never back into the caller's code
    try:
        os.close(read_end)
        os.setsid()
        if os.fork():
            os._exit(0)
        os.write(write_end, b"%d" % os.getpid())
        os.close(write_end)
        os.chdir("/")
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        os.closerange(3, _max_fd())
    except BaseException:  # noqa: B036 - nothing may escape into the caller's copy of the program
        os._exit(1)
    try:
        sampler.run()
    except SamplerError as exc:
        if sampler.summary_file:
            try:
                write_json_atomic(sampler.summary_file, {"error": "proc_sampler: %s" % exc})
            except (IOError, OSError):
                pass
    except BaseException:  # noqa: B036
        pass
    os._exit(0)


def _max_fd():
    try:
        return max(os.sysconf("SC_OPEN_MAX"), 256)
    except (ValueError, OSError):
        return 1024


PID_MAX_LIMIT = 4194304  # the kernel's largest possible pid_max
PID_FILE_MAX = 64


class NotOurSampler(SamplerError):
    """The pid file does not name this phase's live sampler; nothing may be signalled."""


def parse_pid(text):
    """A pid from pid-file text: one positive decimal integer (surrounding whitespace allowed)."""
    value = text.strip() if isinstance(text, str) else ""
    if not value or not value.isdigit() or not value.isascii() or value.startswith("0") or len(value) > 8:
        shown = text[:20] if isinstance(text, str) else text
        raise NotOurSampler("the pid file does not hold a positive process id (got %r)" % (shown,))
    pid = int(value)
    if pid > PID_MAX_LIMIT:
        raise NotOurSampler("the pid file holds %d, above the largest possible process id" % pid)
    return pid


def read_pid_file(path):
    """Text of a pid file: a regular file, not a symbolic link, at most a few bytes read."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            return None
        if exc.errno == errno.ELOOP:
            raise NotOurSampler("the pid file %s is a symbolic link; refusing to follow it" % path)
        raise NotOurSampler("cannot read the pid file %s: %s" % (path, exc.strerror or exc))
    try:
        if os.fstat(fd).st_mode & 0o170000 != 0o100000:  # S_ISREG without importing stat
            raise NotOurSampler("the pid file %s is not a regular file" % path)
        return os.read(fd, PID_FILE_MAX).decode("ascii", "replace")
    finally:
        os.close(fd)


def _proc_status(proc_root, pid):
    fields = {}
    with open(os.path.join(proc_root, str(pid), "status"), "r", encoding="utf-8", errors="replace") as handle:
        for line in handle:
            key, _, value = line.partition(":")
            fields[key.strip()] = value.strip()
    return fields


def identify_sampler(pid, series_path, token=None, expected_uid=None, proc_root="/proc"):
    """Raise NotOurSampler unless ``pid`` is a live process of ``expected_uid`` (default: this
    process's effective uid) that holds ``series_path`` open and, with ``token``, carries
    ``MLPERF_SAMPLER_TOKEN=<token>`` in its environment.  Raises ProcessLookupError when the
    process does not exist (any more) or is a zombie."""
    if expected_uid is None:
        expected_uid = os.geteuid()
    try:
        status = _proc_status(proc_root, pid)
    except FileNotFoundError:
        raise ProcessLookupError(pid)
    except OSError as exc:
        raise NotOurSampler("cannot read the status of process %d: %s" % (pid, exc.strerror or exc))
    if status.get("State", "").startswith(("Z", "X")):
        raise ProcessLookupError(pid)
    try:
        uids = [int(v) for v in status.get("Uid", "").split()]
    except ValueError:
        uids = []
    if not uids or any(uid != expected_uid for uid in uids[:2]):
        raise NotOurSampler("process %d belongs to uid %s, not to uid %d that started the sampler" % (
            pid, uids[1] if len(uids) > 1 else "?", expected_uid))
    base = os.path.join(proc_root, str(pid))
    if token:
        try:
            with open(os.path.join(base, "environ"), "rb") as handle:
                environ = handle.read().split(b"\0")
        except OSError as exc:
            raise NotOurSampler("cannot read the environment of process %d: %s" % (pid, exc.strerror or exc))
        if ("%s=%s" % (TOKEN_ENV, token)).encode("utf-8") not in environ:
            raise NotOurSampler("process %d was not started with this phase's sampler token (a reused pid or "
                                "another program)" % pid)
    wanted = os.path.realpath(series_path)
    try:
        fds = os.listdir(os.path.join(base, "fd"))
    except OSError as exc:
        raise NotOurSampler("cannot list the open files of process %d: %s" % (pid, exc.strerror or exc))
    for fd in fds:
        try:
            if os.readlink(os.path.join(base, "fd", fd)) == wanted:
                return
        except OSError:
            continue
    raise NotOurSampler("process %d does not hold this phase's series file %s open (a reused pid or another "
                        "program)" % (pid, series_path))


def _open_pidfd(pid):
    """A pidfd pins the process: a signal sent through it cannot reach a later process with the same pid."""
    opener = getattr(os, "pidfd_open", None)
    if opener is None:
        return None
    try:
        return opener(pid)
    except OSError as exc:
        if exc.errno == errno.ESRCH:
            raise ProcessLookupError(pid)
        return None  # ENOSYS (old kernel) and the like: fall back to kill()


def stop_sampler(pid_file, series_path, token=None, expected_uid=None, wait=5.0, proc_root="/proc",
                 clock=time.monotonic, sleep=time.sleep):
    """SIGTERM the sampler named by ``pid_file`` after :func:`identify_sampler` accepted it.

    Returns ``{"pid", "signalled", "exited", "outcome", "reason"}`` where outcome is one of
    ``terminated`` (signalled and gone within ``wait``), ``still_running``, ``not_running`` (no pid
    file, or its process is gone) and ``refused`` (the pid file does not name our sampler)."""
    result = {"pid": None, "signalled": False, "exited": False, "outcome": "not_running", "reason": None}
    try:
        text = read_pid_file(pid_file)
        if text is None:
            result["reason"] = "no pid file at %s: the sampler never started" % pid_file
            return result
        pid = parse_pid(text)
        result["pid"] = pid
        if pid == os.getpid():
            raise NotOurSampler("the pid file names the stopping process itself")
        pidfd = _open_pidfd(pid)
        try:
            identify_sampler(pid, series_path, token=token, expected_uid=expected_uid, proc_root=proc_root)
            if pidfd is not None:
                signal.pidfd_send_signal(pidfd, signal.SIGTERM)
            else:
                os.kill(pid, signal.SIGTERM)
            result["signalled"] = True
            ends = clock() + max(wait, 0.0)
            while True:
                if not _pid_present(pid, pidfd):
                    result.update(exited=True, outcome="terminated")
                    break
                if clock() >= ends:
                    result.update(outcome="still_running",
                                  reason="process %d did not exit within %.0f s of SIGTERM" % (pid, wait))
                    break
                sleep(0.1)
        finally:
            if pidfd is not None:
                os.close(pidfd)
    except ProcessLookupError:
        result["reason"] = "process %s is gone: the sampler already exited" % result["pid"]
        result["exited"] = True
    except NotOurSampler as exc:
        result.update(outcome="refused", reason=str(exc))
    return result


def _pid_present(pid, pidfd):
    """Whether the signalled process is still there: through its pidfd (signal 0) when there is one,
    so a later process with the same pid does not count; a zombie counts as gone."""
    if pidfd is not None:
        try:
            signal.pidfd_send_signal(pidfd, 0)
        except ProcessLookupError:
            return False
        except OSError:
            pass
    return pid_alive(pid)
