# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller-side telemetry assembly (plugins/plugin_utils/_telemetry.py)."""
import copy
import json
import os

import pytest

from ansible_collections.mlperf.storage.plugins.module_utils import _procfs as procfs
from ansible_collections.mlperf.storage.plugins.module_utils._sampler import Sampler
from ansible_collections.mlperf.storage.plugins.plugin_utils import _telemetry as tel

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures", "proc")
VM = os.path.join(FIXTURES, "debian12-vm")
BIG = os.path.join(FIXTURES, "bignode-nvme-cgv2")

# keys rules.md 8.3 names for the run metadata
SYSTEM_INFO_KEYS = {"total_memory_bytes", "total_cores", "num_hosts", "min_memory_bytes", "max_memory_bytes",
                    "collection_method", "collection_timestamp", "hosts", "host_consistency_issues"}
TIMESERIES_KEYS = {"file", "num_samples", "interval_seconds", "hosts_collected"}


def snapshot(machine, label="start", paths=None, now=1_800_000_000.0):
    return procfs.collect_snapshot(procfs.ProcReader(machine), paths=paths, label=label, now=now)


def sample_line(seq, ts, phase="run_1"):
    return json.dumps({"seq": seq, "ts": ts, "phase": phase, "cpu": {"idle": 90.0}}) + "\n"


# --------------------------------------------------------------------------- series scanning

def test_scan_series_counts_gaps_phases_and_cut_line():
    lines = [sample_line(1, 100.0), sample_line(2, 101.0), sample_line(3, 102.0),
             sample_line(4, 106.5, "epoch_2"), sample_line(5, 107.5, "epoch_2"), '{"seq": 6, "ts": 10']
    scan = tel.scan_series(lines, target_interval=1.0)
    assert scan["samples"] == 5 and scan["bad_lines"] == 1
    assert scan["gaps"] == 1 and scan["gap_list"] == [{"after_seq": 3, "start": tel.utc_iso(102.0), "seconds": 4.5}]
    assert scan["interval_max"] == 4.5 and scan["interval_mean"] == pytest.approx(7.5 / 4, abs=1e-4)
    assert [(p["name"], p["samples"]) for p in scan["phases"]] == [("run_1", 3), ("epoch_2", 2)]
    assert scan["start_time"] == tel.utc_iso(100.0) and scan["end_time"] == tel.utc_iso(107.5)


def test_scan_series_empty():
    scan = tel.scan_series([], 1.0)
    assert scan["samples"] == 0 and scan["start_time"] is None and scan["interval_mean"] is None


def test_scan_agrees_with_the_sampler_that_wrote_the_file(tmp_path):
    clock = {"t": 0.0}

    def sleep(seconds):
        clock["t"] += seconds
        if 4.0 <= clock["t"] < 4.3:
            clock["t"] += 3.0  # one stall

    path = str(tmp_path / "s.jsonl")
    summary = Sampler(path=path, interval=1.0, max_duration=15.0, reader=procfs.ProcReader(VM),
                      clock=lambda: clock["t"], wall=lambda: 1_800_000_000.0 + clock["t"], sleep=sleep).run()
    scan = tel.scan_series_file(path, 1.0)
    assert scan["samples"] == summary["samples"]
    assert scan["gaps"] == summary["gaps"] == 1
    assert scan["interval_max"] == pytest.approx(summary["interval_max"], abs=0.01)


# --------------------------------------------------------------------------- snapshots

def test_host_info_shape():
    info = tel.host_info("node17", snapshot(BIG))
    assert info["hostname"] == "gpu-node-17" and info["inventory_hostname"] == "node17"
    assert info["memory"]["total"] == snapshot(BIG)["meminfo"]["MemTotal"]
    assert info["cpu"]["num_cores"] == 8 and info["cpu"]["num_logical_cores"] == 16
    assert {d["device_name"] for d in info["disks"]} >= {"nvme7n1", "md0"}
    assert info["network"][0]["interface_name"] == "ens1f0np0"
    assert info["system"]["os_release"]["ID"] == "rocky" and info["system"]["load_average_1min"] == 12.5


def test_consistency_identical_hosts_have_no_issues():
    snap = snapshot(BIG)
    assert tel.host_consistency_issues({"a": snap, "b": copy.deepcopy(snap)}) == []
    assert tel.host_consistency_issues({"a": snap}) == []


def test_consistency_flags_every_difference():
    issues = tel.host_consistency_issues({"vm": snapshot(VM), "big": snapshot(BIG)})
    text = "\n".join(issues)
    assert "memory differs by more than 10%" in text and "vm has 23.5 GiB" in text
    assert "physical core counts differ: 2 on vm; 8 on big" in text
    assert "kernel releases differ" in text and "5.14.0-427.13.1.el9_4.x86_64 on big" in text
    assert "operating systems differ" in text and "debian 12 on vm" in text and "rocky 9.4 on big" in text
    assert "CPU models differ" in text


def test_consistency_memory_threshold_is_ten_percent():
    base = snapshot(BIG)
    near = copy.deepcopy(base)
    near["meminfo"]["MemTotal"] = int(base["meminfo"]["MemTotal"] * 0.95)
    far = copy.deepcopy(base)
    far["meminfo"]["MemTotal"] = int(base["meminfo"]["MemTotal"] * 0.85)
    assert tel.host_consistency_issues({"a": base, "b": near}) == []
    assert len(tel.host_consistency_issues({"a": base, "b": far})) == 1


def test_system_info_totals():
    info = tel.system_info({"vm": snapshot(VM), "big": snapshot(BIG)}, "2026-11-23T10:15:00Z")
    assert SYSTEM_INFO_KEYS <= set(info)
    vm_mem, big_mem = snapshot(VM)["meminfo"]["MemTotal"], snapshot(BIG)["meminfo"]["MemTotal"]
    assert info["total_memory_bytes"] == vm_mem + big_mem
    assert (info["min_memory_bytes"], info["max_memory_bytes"]) == (vm_mem, big_mem)
    assert info["total_cores"] == 10 and info["num_hosts"] == 2 and info["collection_method"] == "ansible"
    assert [h["inventory_hostname"] for h in info["hosts"]] == ["big", "vm"]
    assert info["host_consistency_issues"]


def test_diff_of_unchanged_host_is_empty():
    snap = snapshot(BIG, paths={"data_dir": "/mnt/data"})
    assert tel.diff_snapshots(snap, copy.deepcopy(snap)) == {}


def test_diff_reports_mounts_tunables_queue_cgroup_memory_reboot():
    start = snapshot(BIG, paths={"data_dir": "/mnt/data", "results_dir": "/mnt/results"})
    end = copy.deepcopy(start)
    end["mounts"] = [m for m in end["mounts"] if m["mountpoint"] != "/mnt/results"]
    end["mounts"].append({"device": "tmpfs", "mountpoint": "/mnt/ram", "fstype": "tmpfs", "options": ["rw"]})
    for m in end["mounts"]:
        if m["mountpoint"] == "/mnt/data":
            m["options"] = ["ro"]
    end["tunables"]["sysctl"]["vm.dirty_ratio"] = 40
    end["tunables"]["mtu"]["ib0"] = 4092
    end["paths"]["data_dir"]["block_device"]["read_ahead_kb"] = 128
    end["cgroup"]["limits"]["memory_bytes"] = 32 << 30
    end["meminfo"]["Dirty"] += 4096
    end["stat"]["btime"] += 600
    diff = tel.diff_snapshots(start, end)
    assert diff["mounts"]["added"] == ["/mnt/ram"] and diff["mounts"]["removed"] == ["/mnt/results"]
    assert diff["mounts"]["changed"]["/mnt/data"]["end"]["options"] == ["ro"]
    assert diff["tunables"]["vm.dirty_ratio"] == {"start": 10, "end": 40}
    assert diff["tunables"]["mtu"] == {"ib0": {"start": 2044, "end": 4092}}
    assert diff["paths"]["data_dir"]["block_device"] == {"read_ahead_kb": {"start": 8192, "end": 128}}
    assert diff["cgroup_limits"]["memory_bytes"] == {"start": 64 << 30, "end": 32 << 30}
    assert diff["memory"] == {"Dirty": {"start": start["meminfo"]["Dirty"], "end": end["meminfo"]["Dirty"],
                                        "delta": 4096}}
    assert diff["rebooted"] is True
    assert "kernel" not in diff


# --------------------------------------------------------------------------- the whole run

def stage(collect_dir, host, series=None, start=None, end=None):
    incoming = os.path.join(collect_dir, "telemetry", tel.STAGING_DIR, host)
    os.makedirs(incoming, exist_ok=True)
    if series is not None:
        with open(os.path.join(incoming, "series.jsonl"), "w") as handle:
            handle.write("".join(series))
    for which, snap in (("start", start), ("end", end)):
        if snap is not None:
            with open(os.path.join(incoming, "snapshot_%s.json" % which), "w") as handle:
                json.dump(snap, handle)


def ok_sampler(samples):
    return {"samples": samples, "interval_target": 1.0, "stop_reason": "stop_file", "gaps": 0}


def test_build_run_telemetry_tree_index_and_summary(tmp_path):
    collect = str(tmp_path / "run")
    good = [sample_line(i, 1000.0 + i) for i in range(1, 11)]
    stage(collect, "client-a", good, snapshot(BIG, now=1000.0), snapshot(BIG, "end", now=1011.0))
    cut = [sample_line(i, 1000.2 + i) for i in range(1, 5)] + ['{"seq": 5, "ts": 10']
    stage(collect, "client-b", cut, snapshot(BIG, now=1000.1))
    results = [
        {"host": "client-a", "label": "run_1", "sampler": ok_sampler(10), "sampler_failed": False, "error": None},
        {"host": "client-b", "label": "run_1", "sampler": {"msg": "Timeout exceeded", "failed": True},
         "sampler_failed": True, "error": None},
    ]
    summary = tel.build_run_telemetry(collect, "training", "20261123_101500", results,
                                      hosts_requested=["client-a", "client-b", "client-c"], interval=1.0)

    tree = sorted(os.path.relpath(os.path.join(d, f), collect) for d, _, fs in os.walk(collect) for f in fs)
    assert tree == sorted([
        "training_20261123_101500_timeseries.json", "telemetry/client-a.jsonl", "telemetry/client-b.jsonl",
        "telemetry/client-a_snapshot_start.json", "telemetry/client-a_snapshot_end.json",
        "telemetry/client-b_snapshot_start.json", "telemetry/snapshot_diff.json", "telemetry/summary.json"])

    assert TIMESERIES_KEYS <= set(summary["timeseries_data"])
    assert summary["timeseries_data"] == {"file": "training_20261123_101500_timeseries.json", "num_samples": 10,
                                          "interval_seconds": 1.0, "hosts_collected": ["client-a", "client-b"]}
    assert summary["cluster_snapshots"]["collection_method"] == "ansible"
    assert [h["inventory_hostname"] for h in summary["cluster_snapshots"]["start"]["hosts"]] == ["client-a", "client-b"]
    assert [h["inventory_hostname"] for h in summary["cluster_snapshots"]["end"]["hosts"]] == ["client-a"]
    assert SYSTEM_INFO_KEYS <= set(summary["system_info"]) and summary["system_info"]["num_hosts"] == 2
    assert summary["sampler_failed"] == ["client-b"]
    warnings = "\n".join(summary["warnings"])
    assert "client-c: no telemetry" in warnings
    assert "client-b: sampler failed (Timeout exceeded)" in warnings
    assert "client-b: 1 unreadable line(s) skipped" in warnings
    assert "client-b: no end snapshot was fetched" in warnings

    with open(os.path.join(collect, "training_20261123_101500_timeseries.json")) as handle:
        index = json.load(handle)
    assert index["hosts"]["client-a"]["file"] == "telemetry/client-a.jsonl"
    assert index["hosts"]["client-a"]["samples"] == 10 and index["hosts"]["client-b"]["samples"] == 4
    assert index["hosts"]["client-b"]["sampler_failed"] is True
    assert index["hosts_requested"] == ["client-a", "client-b", "client-c"]
    assert index["num_samples_all_hosts"] == 14
    assert index["phases"] == [{"name": "run_1", "samples": 14, "hosts": ["client-a", "client-b"],
                                "start_time": tel.utc_iso(1001.0), "end_time": tel.utc_iso(1010.0)}]
    with open(os.path.join(collect, "telemetry", "summary.json")) as handle:
        assert json.load(handle) == summary
    with open(os.path.join(collect, "telemetry", "snapshot_diff.json")) as handle:
        assert set(json.load(handle)) == {"client-a"}


def test_build_warns_when_sampler_stopped_on_its_own_and_on_gaps(tmp_path):
    collect = str(tmp_path / "run")
    series = [sample_line(1, 10.0), sample_line(2, 11.0), sample_line(3, 20.0)]
    stage(collect, "h", series, snapshot(VM), snapshot(VM, "end"))
    sampler = dict(ok_sampler(3), stop_reason="max_duration")
    summary = tel.build_run_telemetry(collect, "checkpointing", "20261123_101500",
                                      [{"host": "h", "sampler": sampler, "sampler_failed": False}])
    warnings = "\n".join(summary["warnings"])
    assert "stopped on its own (max_duration)" in warnings
    assert "1 gap(s) longer than twice the 1.00 s interval, longest 9.0 s" in warnings
    assert summary["timeseries_data"]["interval_seconds"] == 1.0  # from the sampler's summary


def test_build_host_names_are_made_safe_and_distinct(tmp_path):
    collect = str(tmp_path / "run")
    stage(collect, "fe80::1", [sample_line(1, 1.0)])
    stage(collect, "fe80__1", [sample_line(1, 1.0)])
    summary = tel.build_run_telemetry(collect, "training", "20261123_101500",
                                      [{"host": "fe80::1"}, {"host": "fe80__1"}], interval=1.0)
    files = sorted(os.listdir(os.path.join(collect, "telemetry")))
    assert "fe80__1.jsonl" in files and "fe80__1_1.jsonl" in files
    assert summary["timeseries_data"]["hosts_collected"] == ["fe80::1", "fe80__1"]  # inventory names kept


def test_build_rejects_bad_arguments_with_explanations(tmp_path):
    with pytest.raises(tel.TelemetryError) as err:
        tel.build_run_telemetry("relative/dir", "train ing", "2026-11-23", [{"nohost": 1}])
    message = str(err.value)
    assert "collect_dir must be an absolute directory" in message
    assert "benchmark must be a name such as 'training'" in message
    assert "timestamp must look like YYYYMMDD_HHMMSS" in message
    assert "host_results[0] must be a mapping with at least 'host'" in message
    with pytest.raises(tel.TelemetryError, match="host_results must be a list"):
        tel.build_run_telemetry(str(tmp_path), "training", "20261123_101500", {"host": "a"})


def test_safe_name():
    assert tel.safe_name("node-01.example.com") == "node-01.example.com"
    assert tel.safe_name("user@host:22") == "user_host_22"
    assert tel.safe_name("..") == "host"
