# -*- coding: utf-8 -*-
# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Parsers for Linux /proc and /sys text, and a snapshot collector built on them.

Runs on target hosts: Python 3.9+ standard library only.  Every ``parse_*`` function takes the
text of one file and returns plain data; malformed or truncated lines are skipped rather than
raising, because a half-written /proc read must never abort a benchmark.  File access is kept in
:class:`ProcReader` so tests can point the collector at a directory of captured files.
"""
from __future__ import annotations

import hashlib
import os
import re
import socket
import time

SNAPSHOT_SCHEMA = "mlperf-proc-snapshot/1"
SECTOR_BYTES = 512  # /proc/diskstats counts 512-byte sectors whatever the device's block size

DISKSTAT_FIELDS = (
    "reads_completed", "reads_merged", "sectors_read", "time_reading_ms",
    "writes_completed", "writes_merged", "sectors_written", "time_writing_ms",
    "ios_in_progress", "time_doing_ios_ms", "weighted_time_doing_ios_ms",
    # kernel 4.18+
    "discards_completed", "discards_merged", "sectors_discarded", "time_discarding_ms",
    # kernel 5.5+
    "flush_requests_completed", "time_flushing_ms",
)

CPU_TIME_FIELDS = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal", "guest", "guest_nice")

NETDEV_FIELDS = (
    "rx_bytes", "rx_packets", "rx_errors", "rx_dropped", "rx_fifo", "rx_frame", "rx_compressed", "rx_multicast",
    "tx_bytes", "tx_packets", "tx_errors", "tx_dropped", "tx_fifo", "tx_collisions", "tx_carrier", "tx_compressed",
)

# Devices that carry no storage traffic of their own, or whose traffic is already counted on the
# whole disk (partitions).
_VIRTUAL_DISK_RE = re.compile(r"^(loop\d+|ram\d+|zram\d+|fd\d+|sr\d+)$")
_PARTITION_RE = re.compile(
    r"^(?:(?:[shv]d[a-z]+|xvd[a-z]+)\d+|(?:nvme\d+n\d+|mmcblk\d+|nbd\d+|rbd\d+|loop\d+)p\d+)$"
)

# Kernel settings that change how a storage benchmark behaves; diffed between start and end.
SYSCTLS = (
    "vm/dirty_ratio", "vm/dirty_background_ratio", "vm/dirty_bytes", "vm/dirty_background_bytes",
    "vm/dirty_expire_centisecs", "vm/dirty_writeback_centisecs", "vm/swappiness", "vm/vfs_cache_pressure",
    "vm/min_free_kbytes", "vm/overcommit_memory", "vm/zone_reclaim_mode", "kernel/numa_balancing",
    "net/core/rmem_max", "net/core/wmem_max", "fs/file-max",
)

QUEUE_SETTINGS = ("scheduler", "read_ahead_kb", "rotational", "nr_requests", "max_sectors_kb",
                  "logical_block_size", "physical_block_size")


def to_number(text):
    """The int or float a text holds ("14000", "2.5"), or None when it holds neither."""
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return None


# --------------------------------------------------------------------------- parsers (text in)

def _complete_lines(text):
    """Lines of ``text`` without a trailing partial line: /proc files end with a newline, so a
    last line without one was cut by a short read and its values cannot be trusted."""
    lines = text.split("\n")
    lines.pop()  # "" after a final newline, or the partial line
    return lines


def parse_meminfo(text):
    """/proc/meminfo -> {field: value}; ``kB`` values are converted to bytes, counts stay counts."""
    result = {}
    for line in _complete_lines(text):
        name, sep, rest = line.partition(":")
        parts = rest.split()
        if not sep or not parts:
            continue
        value = to_number(parts[0])
        if not isinstance(value, int):
            continue
        if len(parts) > 1:
            if parts[1] != "kB":
                continue
            value *= 1024
        result[name.strip()] = value
    return result


def parse_cpuinfo(text):
    """/proc/cpuinfo -> model, sockets, cores, threads and a digest of the CPU flags.

    Cores are distinct (physical id, core id) pairs; on platforms that do not report topology
    (many ARM kernels) every logical CPU counts as one core of a single socket.
    """
    processors = []
    current = {}
    for line in _complete_lines(text):
        if not line.strip():
            if current:
                processors.append(current)
                current = {}
            continue
        key, sep, value = line.partition(":")
        if sep:
            current[key.strip()] = value.strip()
    if current:
        processors.append(current)
    processors = [p for p in processors if "processor" in p]

    result = {"threads": len(processors)}
    if not processors:
        return result
    first = processors[0]
    model = first.get("model name") or first.get("Model") or first.get("cpu model") or first.get("Processor")
    if model:
        result["model"] = model
    if first.get("vendor_id"):
        result["vendor"] = first["vendor_id"]
    sockets = set(p["physical id"] for p in processors if "physical id" in p)
    cores = set((p.get("physical id"), p["core id"]) for p in processors if "core id" in p)
    result["sockets"] = len(sockets) or 1
    result["cores"] = len(cores) or len(processors)
    flags_text = first.get("flags") or first.get("Features") or ""
    flags = sorted(set(flags_text.split()))
    result["flags_count"] = len(flags)
    result["flags_digest"] = hashlib.sha256(" ".join(flags).encode("utf-8")).hexdigest()[:16]
    mhz = to_number(first.get("cpu MHz", ""))
    if mhz is not None:
        result["mhz"] = mhz
    return result


def parse_loadavg(text):
    """/proc/loadavg -> load1/5/15, running and total scheduling entities, last pid."""
    parts = " ".join(_complete_lines(text)).split()
    result = {}
    for name, value in zip(("load1", "load5", "load15"), parts[:3]):
        number = to_number(value)
        if number is not None:
            result[name] = float(number)
    if len(parts) > 3 and "/" in parts[3]:
        running, _, total = parts[3].partition("/")
        if running.isdigit() and total.isdigit():
            result["running"] = int(running)
            result["total"] = int(total)
    if len(parts) > 4 and parts[4].isdigit():
        result["last_pid"] = int(parts[4])
    return result


def _cpu_times(values):
    times = {}
    for name, value in zip(CPU_TIME_FIELDS, values):
        if value.isdigit():
            times[name] = int(value)
    return times


def parse_stat(text):
    """/proc/stat -> aggregate CPU times (jiffies), per-CPU count and scheduler counters."""
    result = {}
    cpus = 0
    for line in _complete_lines(text):
        parts = line.split()
        if not parts:
            continue
        key = parts[0]
        if key == "cpu":
            times = _cpu_times(parts[1:])
            if len(times) >= 4:  # user nice system idle at least, else the line was cut
                result["cpu"] = times
        elif key.startswith("cpu") and key[3:].isdigit():
            cpus += 1
        elif key in ("ctxt", "btime", "processes", "procs_running", "procs_blocked") and len(parts) > 1:
            if parts[1].isdigit():
                result[key] = int(parts[1])
    if cpus:
        result["cpus"] = cpus
    return result


def parse_diskstats(text):
    """/proc/diskstats -> {device: counters}; accepts the 14-, 18- and 20-column kernel formats."""
    result = {}
    for line in _complete_lines(text):
        parts = line.split()
        if len(parts) < 14 or not parts[0].isdigit() or not parts[1].isdigit():
            continue
        values = parts[3:]
        if not all(v.isdigit() for v in values):
            continue
        entry = {"major": int(parts[0]), "minor": int(parts[1])}
        for name, value in zip(DISKSTAT_FIELDS, values):
            entry[name] = int(value)
        result[parts[2]] = entry
    return result


def parse_vmstat(text):
    """/proc/vmstat -> {counter: int}."""
    result = {}
    for line in _complete_lines(text):
        parts = line.split()
        if len(parts) == 2 and parts[1].lstrip("-").isdigit():
            result[parts[0]] = int(parts[1])
    return result


def parse_net_dev(text):
    """/proc/net/dev -> {interface: counters}."""
    result = {}
    for line in _complete_lines(text):
        name, sep, rest = line.partition(":")
        if not sep or "|" in line:
            continue
        values = rest.split()
        if len(values) != len(NETDEV_FIELDS) or not all(v.isdigit() for v in values):
            continue
        result[name.strip()] = dict(zip(NETDEV_FIELDS, (int(v) for v in values)))
    return result


def _unescape_mount_field(field):
    # /proc/mounts escapes space, tab, newline and backslash as \ooo octal
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def parse_mounts(text):
    """/proc/mounts (or /proc/self/mounts) -> list of {device, mountpoint, fstype, options}."""
    result = []
    for line in _complete_lines(text):
        parts = line.split()
        if len(parts) < 4:
            continue
        result.append({
            "device": _unescape_mount_field(parts[0]),
            "mountpoint": _unescape_mount_field(parts[1]),
            "fstype": parts[2],
            "options": parts[3].split(","),
        })
    return result


def find_mount(mounts, path):
    """The mount entry holding ``path`` (absolute, already resolved): the longest matching
    mountpoint, the last one listed when several are stacked on the same point."""
    best = None
    for entry in mounts:
        point = entry["mountpoint"]
        if point == "/" or path == point or path.startswith(point.rstrip("/") + "/"):
            if best is None or len(point) >= len(best["mountpoint"]):
                best = entry
    return best


def parse_proc_cgroup(text):
    """/proc/<pid>/cgroup -> {"unified": path or None, "controllers": {name: path}}."""
    unified = None
    controllers = {}
    for line in _complete_lines(text):
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, names, path = parts
        if names == "":
            unified = path
        else:
            for name in names.split(","):
                controllers[name[5:] if name.startswith("name=") else name] = path
    return {"unified": unified, "controllers": controllers}


def cgroup_version(proc_cgroup, mounts):
    """"v2" (unified only), "v1" (controllers only) or "hybrid", from /proc/self/cgroup and the
    cgroup filesystems mounted."""
    fstypes = set(m["fstype"] for m in mounts) if mounts is not None else set()
    has_v1 = bool(proc_cgroup["controllers"]) or "cgroup" in fstypes
    has_v2 = proc_cgroup["unified"] is not None or "cgroup2" in fstypes
    if has_v1 and has_v2:
        return "hybrid"
    if has_v2:
        return "v2"
    if has_v1:
        return "v1"
    return None


def parse_cgroup_limit(text):
    """A cgroup limit file (memory.max, memory.limit_in_bytes, cpu.cfs_quota_us) -> int, or None
    for "max" / -1 / the v1 "no limit" page-aligned maximum."""
    value = text.strip()
    if not value or value == "max" or value == "-1":
        return None
    if not value.isdigit():
        return None
    number = int(value)
    if number >= 0x7FFFFFFFFFFFF000:  # v1 reports "unlimited" as LONG_MAX rounded to a page
        return None
    return number


def parse_cpu_max(text):
    """cgroup v2 cpu.max ("<quota|max> <period>") -> CPUs allowed (float) or None if unlimited."""
    parts = text.split()
    if len(parts) != 2 or parts[0] == "max" or not parts[0].isdigit() or not parts[1].isdigit():
        return None
    period = int(parts[1])
    return round(int(parts[0]) / period, 3) if period else None


def parse_os_release(text):
    """/etc/os-release -> {KEY: value} with shell quoting removed."""
    result = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        result[key.strip()] = value.replace('\\"', '"').replace("\\\\", "\\")
    return result


def parse_uptime(text):
    """/proc/uptime -> {uptime_seconds, idle_seconds}."""
    parts = " ".join(_complete_lines(text)).split()
    result = {}
    for name, value in zip(("uptime_seconds", "idle_seconds"), parts[:2]):
        number = to_number(value)
        if number is not None:
            result[name] = float(number)
    return result


def parse_scheduler(text):
    """queue/scheduler ("none [mq-deadline] kyber") -> (active, [available])."""
    names = text.split()
    active = None
    available = []
    for name in names:
        if name.startswith("[") and name.endswith("]"):
            name = name[1:-1]
            active = name
        available.append(name)
    if active is None and len(available) == 1:
        active = available[0]
    return active, available


def is_partition_name(name):
    return bool(_PARTITION_RE.match(name))


def is_virtual_disk_name(name):
    return bool(_VIRTUAL_DISK_RE.match(name))


# --------------------------------------------------------------------------- file access

class ProcReader:
    """Reads /proc, /sys and /etc files below ``root``; an unreadable file yields None and one
    warning per path (so a sampler reading the same file every second does not flood)."""

    def __init__(self, root="/"):
        self.root = root
        self.warnings = []
        self._warned = set()

    def path(self, relative):
        return os.path.join(self.root, relative.lstrip("/"))

    def read(self, relative, quiet=False):
        try:
            with open(self.path(relative), "r", encoding="utf-8", errors="replace") as handle:
                return handle.read()
        except (IOError, OSError) as exc:
            if not quiet:
                self.warn_once(relative, "cannot read %s: %s; its fields are left out" % (
                    relative, exc.strerror or exc))
            return None

    def listdir(self, relative):
        try:
            return sorted(os.listdir(self.path(relative)))
        except (IOError, OSError):
            return None

    def exists(self, relative):
        return os.path.exists(self.path(relative))

    def warn_once(self, key, message):
        if key not in self._warned:
            self._warned.add(key)
            self.warnings.append(message)

    @property
    def is_live(self):
        return os.path.abspath(self.root) == "/"


def _parsed(reader, relative, parser):
    text = reader.read(relative)
    if text is None:
        return None
    if not text.endswith("\n"):
        reader.warn_once(relative, "%s looks truncated (%d bytes, no final newline); its last line "
                                   "is ignored" % (relative, len(text)))
    return parser(text)


def _block_device_of_path(reader, path, mount):
    """Name of the block device under ``path``: from st_dev through /sys/dev/block on a live
    system, else from the mount's /dev/<name> source.  Partitions map to their whole disk."""
    if reader.is_live:
        try:
            st_dev = os.stat(path).st_dev
            link = os.path.realpath("/sys/dev/block/%d:%d" % (os.major(st_dev), os.minor(st_dev)))
        except OSError:
            link = None
        if link and os.path.isdir(link):
            name = os.path.basename(link)
            if os.path.exists(os.path.join(link, "partition")):
                return os.path.basename(os.path.dirname(link)), name
            return name, None
    if mount and mount["device"].startswith("/dev/"):
        name = os.path.basename(mount["device"])
        if reader.exists("sys/class/block/%s/partition" % name) or is_partition_name(name):
            match = re.match(r"^(nvme\d+n\d+|mmcblk\d+|nbd\d+|loop\d+)p\d+$", name) or \
                re.match(r"^([a-z]+)\d+$", name)
            if match:
                return match.group(1), name
        return name, None
    return None, None


def block_queue_settings(reader, disk):
    """Queue settings of one whole disk, plus those of the disks below it (md/dm slaves)."""
    base = "sys/block/%s" % disk
    settings = {"name": disk}
    for item in QUEUE_SETTINGS:
        text = reader.read("%s/queue/%s" % (base, item), quiet=True)
        if text is None:
            continue
        if item == "scheduler":
            active, available = parse_scheduler(text)
            settings["scheduler"] = active
            settings["schedulers_available"] = available
        else:
            number = to_number(text.strip())
            settings[item] = number if number is not None else text.strip()
    if "rotational" in settings:
        settings["rotational"] = bool(settings["rotational"])
    if len(settings) == 1:
        reader.warn_once("queue:" + disk, "no queue settings readable under /%s/queue" % base)
    slaves = reader.listdir("%s/slaves" % base) or []
    if slaves:
        settings["slaves"] = [block_queue_settings(reader, s) for s in slaves]
    return settings


def describe_paths(reader, mounts, paths):
    """For each {name: path}: the mount holding it, its filesystem type and the queue settings of
    the block device behind it (None for network and memory filesystems)."""
    described = {}
    for name in sorted(paths):
        path = paths[name]
        resolved = os.path.realpath(path) if reader.is_live else os.path.normpath(path)
        entry = {"path": path, "resolved": resolved, "exists": os.path.exists(resolved) if reader.is_live else None}
        mount = find_mount(mounts, resolved) if mounts is not None else None
        if mount:
            entry.update({"mountpoint": mount["mountpoint"], "fstype": mount["fstype"],
                          "device": mount["device"], "options": mount["options"]})
        disk, partition = _block_device_of_path(reader, resolved, mount)
        if disk and (reader.exists("sys/block/%s" % disk)):
            entry["block_device"] = block_queue_settings(reader, disk)
            if partition:
                entry["block_device"]["partition"] = partition
        else:
            entry["block_device"] = None
        described[name] = entry
    return described


def collect_tunables(reader, interfaces):
    """Sysctls from SYSCTLS, transparent huge pages, CPU frequency governor, interface MTUs."""
    tunables = {}
    sysctl = {}
    for name in SYSCTLS:
        text = reader.read("proc/sys/" + name, quiet=True)
        if text is not None and text.strip():
            value = to_number(text.strip())
            sysctl[name.replace("/", ".")] = value if value is not None else text.strip()
    if sysctl:
        tunables["sysctl"] = sysctl
    thp = reader.read("sys/kernel/mm/transparent_hugepage/enabled", quiet=True)
    if thp is not None:
        tunables["transparent_hugepage"] = parse_scheduler(thp)[0]
    governors = set()
    for cpu in reader.listdir("sys/devices/system/cpu") or []:
        if re.match(r"^cpu\d+$", cpu):
            text = reader.read("sys/devices/system/cpu/%s/cpufreq/scaling_governor" % cpu, quiet=True)
            if text is not None and text.strip():
                governors.add(text.strip())
    if governors:
        tunables["cpu_governors"] = sorted(governors)
    mtu = {}
    for name in interfaces:
        text = reader.read("sys/class/net/%s/mtu" % name, quiet=True)
        if text is not None and text.strip().isdigit():
            mtu[name] = int(text)
    if mtu:
        tunables["mtu"] = mtu
    return tunables


def collect_cgroup(reader, mounts):
    proc_cgroup = _parsed(reader, "proc/self/cgroup", parse_proc_cgroup)
    if proc_cgroup is None:
        return None
    result = {"version": cgroup_version(proc_cgroup, mounts), "unified_path": proc_cgroup["unified"],
              "controllers": proc_cgroup["controllers"]}
    limits = {}
    if result["version"] == "v2":
        base = "sys/fs/cgroup" + (proc_cgroup["unified"] or "/").rstrip("/")
        text = reader.read(base + "/memory.max", quiet=True)
        if text is not None:
            limits["memory_bytes"] = parse_cgroup_limit(text)
        text = reader.read(base + "/cpu.max", quiet=True)
        if text is not None:
            limits["cpus"] = parse_cpu_max(text)
    elif result["version"] in ("v1", "hybrid"):
        memory_path = proc_cgroup["controllers"].get("memory", "/").rstrip("/")
        text = reader.read("sys/fs/cgroup/memory%s/memory.limit_in_bytes" % memory_path, quiet=True)
        if text is not None:
            limits["memory_bytes"] = parse_cgroup_limit(text)
        cpu_path = proc_cgroup["controllers"].get("cpu", "/").rstrip("/")
        quota = reader.read("sys/fs/cgroup/cpu%s/cpu.cfs_quota_us" % cpu_path, quiet=True)
        period = reader.read("sys/fs/cgroup/cpu%s/cpu.cfs_period_us" % cpu_path, quiet=True)
        if quota is not None and period is not None:
            quota_value = parse_cgroup_limit(quota)
            period_value = parse_cgroup_limit(period)
            limits["cpus"] = round(quota_value / period_value, 3) if quota_value and period_value else None
    result["limits"] = limits
    return result


def utc_iso(epoch):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch)) + ".%03dZ" % int((epoch % 1) * 1000)


def collect_snapshot(reader, paths=None, label=None, now=None):
    """One structured snapshot of the host.  Every section whose file cannot be read is left
    out and named in ``warnings``; nothing here raises on bad /proc content."""
    now = time.time() if now is None else now
    snapshot = {"schema": SNAPSHOT_SCHEMA, "collected_at": utc_iso(now), "collected_epoch": round(now, 3)}
    if label:
        snapshot["label"] = label
    hostname = (reader.read("proc/sys/kernel/hostname", quiet=True) or "").strip()
    snapshot["hostname"] = hostname or (socket.gethostname() if reader.is_live else None)

    sections = (
        ("meminfo", "proc/meminfo", parse_meminfo),
        ("cpuinfo", "proc/cpuinfo", parse_cpuinfo),
        ("loadavg", "proc/loadavg", parse_loadavg),
        ("stat", "proc/stat", parse_stat),
        ("diskstats", "proc/diskstats", parse_diskstats),
        ("vmstat", "proc/vmstat", parse_vmstat),
        ("net_dev", "proc/net/dev", parse_net_dev),
        ("uptime", "proc/uptime", parse_uptime),
    )
    for key, relative, parser in sections:
        value = _parsed(reader, relative, parser)
        if value is not None:
            snapshot[key] = value

    mounts = _parsed(reader, "proc/mounts", parse_mounts)
    if mounts is not None:
        snapshot["mounts"] = mounts
    if paths:
        snapshot["paths"] = describe_paths(reader, mounts, paths)

    cgroup = collect_cgroup(reader, mounts)
    if cgroup is not None:
        snapshot["cgroup"] = cgroup

    kernel = {}
    release = reader.read("proc/sys/kernel/osrelease", quiet=True)
    version = reader.read("proc/version")
    cmdline = reader.read("proc/cmdline")
    if release is not None:
        kernel["release"] = release.strip()
    elif version is not None and len(version.split()) > 2:
        kernel["release"] = version.split()[2]
    if version is not None:
        kernel["version"] = version.strip()
    if cmdline is not None:
        kernel["cmdline"] = cmdline.strip()
    if reader.is_live:
        kernel["machine"] = os.uname()[4]
    if kernel:
        snapshot["kernel"] = kernel
    snapshot["tunables"] = collect_tunables(reader, sorted(snapshot.get("net_dev", {})))

    os_release = reader.read("etc/os-release", quiet=True)
    if os_release is None:
        os_release = reader.read("usr/lib/os-release")
    if os_release is not None:
        snapshot["os_release"] = parse_os_release(os_release)

    snapshot["warnings"] = list(reader.warnings)
    return snapshot
