#!/usr/bin/env python3
# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What host telemetry costs the host it observes.

Compares the long-lived proc_sampler (one process per host for the whole phase) at 1 s and 0.1 s
with the one-process-per-sample approach (a fresh ``python3 -c`` that reads /proc, per sample,
optionally through ``ssh localhost`` when an SSH server accepts a key without a password).

CPU % is CPU seconds used (user + system, including children) divided by wall seconds, as a
percentage of one core; RSS is the sampler's peak resident set.  Run from the repository root:

    python3 bench/sampler_cost.py [--seconds 20] [--json out.json]

A quick run: --seconds 2.
"""
import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTIONS = os.path.join(REPO, ".collections")

LONG_LIVED = """
import sys
sys.path.insert(0, %r)
from ansible_collections.mlperf.storage.plugins.module_utils._sampler import Sampler
Sampler(path=sys.argv[1], interval=float(sys.argv[2]), max_duration=float(sys.argv[3])).run()
""" % COLLECTIONS

# what one upstream-style sample does: start an interpreter, read the same /proc files, print JSON
ONE_SHOT = (
    "import json,time;d={};"
    "[d.__setitem__(p,open(p).read()) for p in ('/proc/diskstats','/proc/stat','/proc/meminfo',"
    "'/proc/net/dev','/proc/loadavg','/proc/vmstat')];"
    "print(json.dumps({'ts':time.time(),'n':len(d)}))"
)


def proc_cpu_seconds(pid):
    """utime + stime of a live process, in seconds."""
    with open("/proc/%d/stat" % pid) as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / float(os.sysconf("SC_CLK_TCK"))


def proc_rss_kib(pid):
    with open("/proc/%d/status" % pid) as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return None


def measure_long_lived(interval, seconds, workdir):
    path = os.path.join(workdir, "series-%s.jsonl" % interval)
    proc = subprocess.Popen([sys.executable, "-c", LONG_LIVED, path, str(interval), str(seconds)])
    started = time.monotonic()
    cpu = rss = 0
    # sample the sampler's own counters just before it exits (it is not our child's child)
    while proc.poll() is None:
        try:
            cpu = proc_cpu_seconds(proc.pid)
            rss = proc_rss_kib(proc.pid) or rss  # None once the process is exiting
        except (IOError, OSError, IndexError):
            pass
        time.sleep(0.05)
    wall = time.monotonic() - started
    with open(path) as handle:
        samples = sum(1 for _ in handle)
    # the interpreter start-up is paid once whatever the duration; report it apart
    startup = measure_startup()
    return {"method": "long-lived sampler", "interval": interval, "wall_s": round(wall, 2), "samples": samples,
            "cpu_pct": round(100.0 * max(cpu - startup, 0.0) / wall, 3),
            "cpu_pct_with_startup": round(100.0 * cpu / wall, 3), "startup_cpu_s": round(startup, 3),
            "rss_mib": round(rss / 1024.0, 1) if rss else None}


def measure_startup():
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.executable, "-c", "import sys; sys.path.insert(0, %r); "
                    "import ansible_collections.mlperf.storage.plugins.module_utils._sampler" % COLLECTIONS],
                   check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def measure_one_shot(interval, seconds, argv_prefix, label):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    samples = 0
    peak_rss = 0
    next_tick = started
    while time.monotonic() - started < seconds:
        next_tick += interval
        child = subprocess.Popen(argv_prefix + [ONE_SHOT], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # this child's own peak RSS (RUSAGE_CHILDREN's would be the largest of every child so far, the
        # long-lived sampler's included)
        _pid, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        peak_rss = max(peak_rss, usage.ru_maxrss)
        if child.returncode == 0:
            samples += 1
        delay = next_tick - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"method": label, "interval": interval, "wall_s": round(wall, 2), "samples": samples,
            "cpu_pct": round(100.0 * cpu / wall, 3), "cpu_pct_with_startup": round(100.0 * cpu / wall, 3),
            "startup_cpu_s": None,
            "rss_mib": round(peak_rss / 1024.0, 1)}


def ssh_prefix():
    if not shutil.which("ssh"):
        return None, "no ssh client"
    probe = subprocess.run(["ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=3", "-o",
                            "StrictHostKeyChecking=accept-new", "localhost", "true"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, universal_newlines=True)
    if probe.returncode != 0:
        return None, "ssh localhost unavailable (%s)" % (probe.stderr.strip().splitlines() or ["no sshd"])[-1]
    return ["ssh", "-o", "BatchMode=yes", "localhost", "python3", "-c"], None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="duration of each measurement (default 20)")
    parser.add_argument("--json", help="also write the rows to this file")
    args = parser.parse_args()

    rows = []
    workdir = tempfile.mkdtemp(prefix="sampler_cost.")
    try:
        for interval in (1.0, 0.1):
            rows.append(measure_long_lived(interval, args.seconds, workdir))
        for interval in (1.0, 0.1):
            rows.append(measure_one_shot(interval, args.seconds, [sys.executable, "-c"], "process per sample"))
        prefix, why_not = ssh_prefix()
        if prefix:
            rows.append(measure_one_shot(1.0, args.seconds, prefix, "ssh + process per sample"))
        else:
            print("(ssh per-sample row skipped: %s)" % why_not)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    header = ("method", "interval s", "samples", "wall s", "CPU % steady", "CPU % total", "RSS MiB")
    print("%-26s %10s %8s %8s %13s %12s %8s" % header)
    for row in rows:
        print("%-26s %10.1f %8d %8.1f %13.3f %12.3f %8s" % (
            row["method"], row["interval"], row["samples"], row["wall_s"], row["cpu_pct"],
            row["cpu_pct_with_startup"], row["rss_mib"]))
    print("CPU %% is of one core. 'steady' leaves out the long-lived sampler's one-off interpreter start-up "
          "(%.3f CPU s), which a per-sample process pays every sample."
          % next(r["startup_cpu_s"] for r in rows if r["startup_cpu_s"] is not None))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(rows, handle, indent=1)


if __name__ == "__main__":
    main()
