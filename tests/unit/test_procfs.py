# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Parsers and snapshot collector of plugins/module_utils/_procfs.py on captured /proc files.

Fixtures (tests/unit/fixtures/proc/<machine>/ laid out like a root file system):
  debian12-vm        captured from a 2-vCPU Debian 12 VM (cgroup hybrid, virtio disk, no swap);
                     t1/ holds a second capture of the counters after 64 MiB of direct writes
                     and one second of busy CPU. Scrubbed: the init program's arguments at the end
                     of the command line, the kernel build host, one private mount, and the
                     memory cgroup path (set to /)
  bignode-nvme-cgv2  a two-socket node: 8 NVMe + md0 + dm + SATA disk with partitions, cgroup v2
                     with memory and CPU limits, NFS results mount, a mountpoint with a space
  truncated-reads    files cut mid-line by a short read, plus missing ones
"""
import os
import re

import pytest

from ansible_collections.mlperf.storage.plugins.module_utils import _procfs as procfs

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures", "proc")
VM = os.path.join(FIXTURES, "debian12-vm")
BIG = os.path.join(FIXTURES, "bignode-nvme-cgv2")
TRUNC = os.path.join(FIXTURES, "truncated-reads")


def text(machine, relative):
    with open(os.path.join(machine, relative)) as handle:
        return handle.read()


def kb_field(machine, name):
    """The value of one meminfo field read straight from the file, for cross-checking."""
    for line in text(machine, "proc/meminfo").splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(name)


# --------------------------------------------------------------------------- meminfo

def test_meminfo_converts_kb_to_bytes_and_keeps_counts():
    mem = procfs.parse_meminfo(text(VM, "proc/meminfo"))
    assert mem["MemTotal"] == kb_field(VM, "MemTotal")
    assert mem["Dirty"] == kb_field(VM, "Dirty")
    assert mem["HugePages_Total"] == 0  # a count, no unit
    assert mem["Hugepagesize"] == 2048 * 1024
    assert mem["SwapTotal"] == 0
    assert len(mem) == len([line for line in text(VM, "proc/meminfo").splitlines() if line.strip()])


def test_meminfo_drops_value_cut_mid_number():
    raw = text(TRUNC, "proc/meminfo")
    assert raw.rstrip().endswith("Buffers:           219")
    mem = procfs.parse_meminfo(raw)
    assert "Buffers" not in mem  # "219" without its unit would be a wrong value
    assert mem["MemAvailable"] == kb_field(VM, "MemAvailable")


def test_meminfo_garbage_is_ignored():
    assert procfs.parse_meminfo("not meminfo at all\n:::\nFoo: bar kB\nBar: 12 MB\n") == {}


# --------------------------------------------------------------------------- cpuinfo

def test_cpuinfo_vm_topology_and_flags_digest():
    cpu = procfs.parse_cpuinfo(text(VM, "proc/cpuinfo"))
    assert cpu["threads"] == text(VM, "proc/cpuinfo").count("processor\t:")
    assert cpu["sockets"] == 1 and cpu["cores"] == 2
    assert cpu["model"] == "AMD EPYC" and cpu["vendor"] == "AuthenticAMD"
    first_flags = re.search(r"^flags\s*: (.*)$", text(VM, "proc/cpuinfo"), re.M).group(1).split()
    assert cpu["flags_count"] == len(set(first_flags))
    assert re.match(r"^[0-9a-f]{16}$", cpu["flags_digest"])


def test_cpuinfo_digest_ignores_flag_order_but_not_content():
    block = "processor\t: 0\nflags\t\t: %s\n\n"
    a = procfs.parse_cpuinfo(block % "sse avx fpu")
    b = procfs.parse_cpuinfo(block % "fpu sse avx")
    c = procfs.parse_cpuinfo(block % "fpu sse avx512f")
    assert a["flags_digest"] == b["flags_digest"] != c["flags_digest"]


def test_cpuinfo_two_sockets_with_hyperthreads():
    cpu = procfs.parse_cpuinfo(text(BIG, "proc/cpuinfo"))
    assert (cpu["sockets"], cpu["cores"], cpu["threads"]) == (2, 8, 16)


def test_cpuinfo_without_topology_counts_threads_as_cores():
    arm = "processor\t: 0\nFeatures\t: fp asimd\n\nprocessor\t: 1\nFeatures\t: fp asimd\n\n"
    cpu = procfs.parse_cpuinfo(arm)
    assert (cpu["sockets"], cpu["cores"], cpu["threads"], cpu["flags_count"]) == (1, 2, 2, 2)


def test_cpuinfo_truncated_keeps_processor_count():
    cpu = procfs.parse_cpuinfo(text(TRUNC, "proc/cpuinfo"))
    assert cpu["threads"] == 2
    assert procfs.parse_cpuinfo("") == {"threads": 0}


# --------------------------------------------------------------------------- loadavg, uptime, stat

def test_loadavg_and_uptime():
    assert procfs.parse_loadavg(text(VM, "proc/loadavg")) == {
        "load1": 1.11, "load5": 0.5, "load15": 0.22, "running": 3, "total": 99, "last_pid": 7505}
    assert procfs.parse_uptime(text(VM, "proc/uptime")) == {"uptime_seconds": 466.47, "idle_seconds": 682.81}
    assert procfs.parse_loadavg(text(TRUNC, "proc/loadavg")) == {}
    assert procfs.parse_uptime(text(TRUNC, "proc/uptime")) == {}  # "457.6" without newline: cut


def test_stat_cpu_times_and_counters():
    stat = procfs.parse_stat(text(VM, "proc/stat"))
    assert stat["cpu"] == dict(zip(procfs.CPU_TIME_FIELDS, [14958, 0, 5770, 68281, 2656, 0, 196, 1567, 0, 0]))
    assert stat["cpus"] == 2
    assert stat["btime"] > 1_700_000_000 and stat["processes"] > 0
    big = procfs.parse_stat(text(BIG, "proc/stat"))
    assert big["cpus"] == 16 and big["procs_blocked"] == 3


def test_stat_truncated_cpu_line_is_dropped():
    assert procfs.parse_stat(text(TRUNC, "proc/stat")) == {}
    assert "cpu" not in procfs.parse_stat("cpu  1 2\n")


# --------------------------------------------------------------------------- diskstats

def test_diskstats_vm_twenty_column_format():
    disks = procfs.parse_diskstats(text(VM, "proc/diskstats"))
    assert set(disks) == {"loop%d" % i for i in range(8)} | {"vda", "zram0"}
    vda = disks["vda"]
    assert (vda["major"], vda["minor"]) == (254, 0)
    assert vda["sectors_written"] == 6823600 and vda["time_flushing_ms"] == 58
    assert len(vda) == 2 + len(procfs.DISKSTAT_FIELDS)


def test_diskstats_older_kernel_formats():
    old14 = "   8       0 sda 1 2 3 4 5 6 7 8 9 10 11\n"
    mid18 = "   8       0 sda 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15\n"
    assert "discards_completed" not in procfs.parse_diskstats(old14)["sda"]
    assert procfs.parse_diskstats(old14)["sda"]["weighted_time_doing_ios_ms"] == 11
    assert procfs.parse_diskstats(mid18)["sda"]["time_discarding_ms"] == 15
    assert "flush_requests_completed" not in procfs.parse_diskstats(mid18)["sda"]


def test_diskstats_many_disks_and_truncation():
    big = procfs.parse_diskstats(text(BIG, "proc/diskstats"))
    assert len([d for d in big if re.match(r"^nvme\dn1$", d)]) == 8
    assert {"nvme0n1p1", "sda1", "md0", "dm-0", "loop0", "ram0"} <= set(big)
    cut = procfs.parse_diskstats(text(TRUNC, "proc/diskstats"))
    assert "vda" not in cut and "loop7" in cut


def test_partition_and_virtual_names():
    for name in ("sda1", "nvme0n1p2", "mmcblk0p1", "vdb3", "xvda1", "loop0p1"):
        assert procfs.is_partition_name(name), name
    for name in ("sda", "nvme0n1", "md0", "dm-0", "vda", "mmcblk0", "nvme12n3"):
        assert not procfs.is_partition_name(name), name
    assert all(procfs.is_virtual_disk_name(n) for n in ("loop3", "ram0", "zram0", "sr0"))
    assert not any(procfs.is_virtual_disk_name(n) for n in ("vda", "md0", "nvme0n1"))


# --------------------------------------------------------------------------- vmstat, net/dev

def test_vmstat():
    vm = procfs.parse_vmstat(text(VM, "proc/vmstat"))
    assert vm["nr_dirty"] == 2400 and vm["pgpgout"] == 3411800
    assert len(vm) == len(text(VM, "proc/vmstat").splitlines())


def test_net_dev():
    net = procfs.parse_net_dev(text(VM, "proc/net/dev"))
    assert set(net) == {"lo", "ifb0", "ifb1", "eth0"}
    assert net["eth0"]["rx_bytes"] == 352745076 and net["eth0"]["tx_packets"] == 4483
    big = procfs.parse_net_dev(text(BIG, "proc/net/dev"))
    assert big["ens1f0np0"]["rx_dropped"] == 12 and big["ib0"]["tx_bytes"] == 223456789012
    assert set(procfs.parse_net_dev(text(TRUNC, "proc/net/dev"))) == {"lo", "ifb0", "ifb1"}


# --------------------------------------------------------------------------- mounts and paths

def test_mounts_unescape_and_longest_match():
    mounts = procfs.parse_mounts(text(BIG, "proc/mounts"))
    points = [m["mountpoint"] for m in mounts]
    assert "/mnt/scratch space" in points
    assert procfs.find_mount(mounts, "/mnt/data/unet3d/train")["fstype"] == "xfs"
    assert procfs.find_mount(mounts, "/mnt/results")["fstype"] == "nfs4"
    assert procfs.find_mount(mounts, "/mnt/datastore")["mountpoint"] == "/"  # not a prefix match
    assert procfs.find_mount(mounts, "/mnt/scratch space/x")["device"] == "/dev/sda1"


def test_mounts_stacked_last_wins_and_vm_count():
    mounts = procfs.parse_mounts("a /x ext4 rw 0 0\nb /x xfs rw 0 0\n")
    assert procfs.find_mount(mounts, "/x/y")["device"] == "b"
    vm = procfs.parse_mounts(text(VM, "proc/mounts"))
    assert len(vm) == len(text(VM, "proc/mounts").splitlines())
    assert procfs.find_mount(vm, "/work/main")["fstype"] == "ext4"


# --------------------------------------------------------------------------- cgroups, os-release, scheduler

def test_cgroup_versions():
    vm = procfs.parse_proc_cgroup(text(VM, "proc/self/cgroup"))
    assert vm["unified"] == "/" and vm["controllers"]["memory"] == "/" and "systemd" in vm["controllers"]
    assert procfs.cgroup_version(vm, procfs.parse_mounts(text(VM, "proc/mounts"))) == "hybrid"
    big = procfs.parse_proc_cgroup(text(BIG, "proc/self/cgroup"))
    assert big == {"unified": "/system.slice/mlperf-bench.service", "controllers": {}}
    assert procfs.cgroup_version(big, procfs.parse_mounts(text(BIG, "proc/mounts"))) == "v2"
    v1 = procfs.parse_proc_cgroup("3:memory:/a\n2:cpu,cpuacct:/b\n")
    assert procfs.cgroup_version(v1, []) == "v1" and v1["controllers"]["cpuacct"] == "/b"


def test_cgroup_limits():
    assert procfs.parse_cgroup_limit("max\n") is None
    assert procfs.parse_cgroup_limit("-1\n") is None
    assert procfs.parse_cgroup_limit(text(VM, "sys/fs/cgroup/memory/memory.limit_in_bytes")) is None
    assert procfs.parse_cgroup_limit("68719476736\n") == 64 << 30
    assert procfs.parse_cpu_max("800000 100000\n") == 8.0
    assert procfs.parse_cpu_max("max 100000\n") is None
    assert procfs.parse_cpu_max("garbage") is None


def test_os_release_quotes_and_comments():
    osr = procfs.parse_os_release(text(BIG, "etc/os-release"))
    assert osr["ID"] == "rocky" and osr["PRETTY_NAME"] == "Rocky Linux 9.4 (Blue Onyx)"
    assert not any(k.startswith("#") for k in osr)
    assert procfs.parse_os_release(text(VM, "etc/os-release"))["VERSION_CODENAME"] == "bookworm"


def test_scheduler():
    assert procfs.parse_scheduler("none [mq-deadline] kyber bfq\n") == (
        "mq-deadline", ["none", "mq-deadline", "kyber", "bfq"])
    assert procfs.parse_scheduler("none\n") == ("none", ["none"])


# --------------------------------------------------------------------------- collected snapshots

def test_snapshot_of_captured_vm():
    reader = procfs.ProcReader(VM)
    snap = procfs.collect_snapshot(reader, paths={"data_dir": "/var/tmp/data"}, label="start", now=0.0)
    assert snap["schema"] == procfs.SNAPSHOT_SCHEMA and snap["label"] == "start"
    assert snap["collected_at"] == "1970-01-01T00:00:00.000Z"
    assert snap["hostname"] == "vm"
    assert snap["meminfo"]["MemTotal"] == kb_field(VM, "MemTotal")
    assert snap["kernel"]["release"] == text(VM, "proc/sys/kernel/osrelease").strip()
    assert snap["kernel"]["cmdline"].startswith("mitigations=")
    assert snap["cgroup"]["version"] == "hybrid" and snap["cgroup"]["limits"]["memory_bytes"] is None
    data = snap["paths"]["data_dir"]
    assert data["fstype"] == "ext4" and data["mountpoint"] == "/"
    queue = data["block_device"]
    assert queue["name"] == "vda" and queue["scheduler"] == "mq-deadline"
    assert queue["read_ahead_kb"] == int(text(VM, "sys/block/vda/queue/read_ahead_kb"))
    assert queue["rotational"] is True
    assert snap["warnings"] == []


def test_snapshot_of_big_node_paths_and_limits():
    reader = procfs.ProcReader(BIG)
    snap = procfs.collect_snapshot(reader, paths={"data_dir": "/mnt/data/unet3d", "results_dir": "/mnt/results",
                                                  "scratch": "/mnt/scratch space/run"})
    data = snap["paths"]["data_dir"]
    assert data["fstype"] == "xfs" and data["block_device"]["name"] == "md0"
    assert [s["name"] for s in data["block_device"]["slaves"]] == ["nvme0n1", "nvme1n1"]
    assert data["block_device"]["slaves"][0]["scheduler"] == "none"
    results = snap["paths"]["results_dir"]
    assert results["fstype"] == "nfs4" and results["block_device"] is None
    scratch = snap["paths"]["scratch"]["block_device"]
    assert scratch["name"] == "sda" and scratch["partition"] == "sda1"
    assert scratch["rotational"] is True and scratch["scheduler"] == "bfq"
    assert snap["cgroup"] == {"version": "v2", "unified_path": "/system.slice/mlperf-bench.service",
                              "controllers": {}, "limits": {"memory_bytes": 64 << 30, "cpus": 8.0}}
    assert snap["meminfo"]["SwapTotal"] == 0
    assert snap["cpuinfo"]["cores"] == 8
    assert snap["os_release"]["VERSION_ID"] == "9.4"


def test_snapshot_truncated_and_missing_files_warn_once_and_never_raise():
    reader = procfs.ProcReader(TRUNC)
    snap = procfs.collect_snapshot(reader, paths={"data_dir": "/data"})
    for absent in ("vmstat", "os_release"):
        assert absent not in snap
    assert "cmdline" not in snap["kernel"] and snap["kernel"]["release"] == "6.18.44-fc-v669"
    assert snap["paths"]["data_dir"]["block_device"] is None
    warnings = snap["warnings"]
    assert any("proc/vmstat" in w and "cannot read" in w for w in warnings)
    assert any("proc/meminfo looks truncated" in w for w in warnings)
    assert len(warnings) == len(set(warnings))
    # a second collection through the same reader adds no duplicate warnings
    again = procfs.collect_snapshot(reader)
    assert len(again["warnings"]) == len(warnings)


def test_snapshot_of_empty_root(tmp_path):
    snap = procfs.collect_snapshot(procfs.ProcReader(str(tmp_path)), paths={"d": "/x"})
    assert set(snap) >= {"schema", "collected_at", "warnings", "paths"}
    assert "meminfo" not in snap and "cpuinfo" not in snap
    assert len(snap["warnings"]) >= 8


def test_snapshot_of_this_host_is_consistent():
    if not os.path.exists("/proc/meminfo"):
        pytest.skip("no /proc on this host")
    here = os.path.dirname(os.path.abspath(__file__))
    snap = procfs.collect_snapshot(procfs.ProcReader("/"), paths={"tests": here})
    assert snap["cpuinfo"]["threads"] == os.cpu_count()
    assert snap["paths"]["tests"]["exists"] is True
    assert snap["paths"]["tests"]["fstype"]


def test_tunables_sysctl_thp_governor_mtu():
    big = procfs.collect_snapshot(procfs.ProcReader(BIG))["tunables"]
    assert big["sysctl"]["vm.dirty_ratio"] == 10 and big["sysctl"]["vm.swappiness"] == 1
    assert "vm.overcommit_memory" not in big["sysctl"]  # absent file: left out, no warning
    assert big["transparent_hugepage"] == "never"
    assert big["cpu_governors"] == ["performance"]
    assert big["mtu"] == {"ens1f0np0": 9000, "ib0": 2044, "lo": 65536}
    vm = procfs.collect_snapshot(procfs.ProcReader(VM))
    assert vm["tunables"]["sysctl"]["vm.dirty_ratio"] == int(text(VM, "proc/sys/vm/dirty_ratio"))
    assert "cpu_governors" not in vm["tunables"]  # the VM has no cpufreq
    assert vm["tunables"]["mtu"]["eth0"] == int(text(VM, "sys/class/net/eth0/mtu"))
    assert vm["warnings"] == []
