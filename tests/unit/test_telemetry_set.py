# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One telemetry window over a run set, split per run on the controller (plugins/plugin_utils/_telemetry.py)."""
import io
import json
import os
import tarfile

import pytest

from ansible_collections.mlperf.storage.plugins.module_utils import _procfs as procfs
from ansible_collections.mlperf.storage.plugins.plugin_utils import _telemetry as tel

BIG = os.path.join(os.path.dirname(__file__), "fixtures", "proc", "bignode-nvme-cgv2")


def sample_line(seq, ts, phase="runset"):
    return json.dumps({"seq": seq, "ts": ts, "phase": phase, "cpu": {"idle": 90.0}}) + "\n"


def three_runs(base):
    return [{"collect_dir": os.path.join(str(base), stamp), "timestamp": stamp, "phase": "run_" + stamp,
             "start_epoch": epoch}
            for stamp, epoch in (("20261205_070001", 1000.5), ("20261205_070011", 1010.5),
                                 ("20261205_070021", 1020.5))]


def test_windows_cover_every_sample_once():
    assert tel.run_windows(three_runs("/r")) == [(None, 1010.5), (1010.5, 1020.5), (1020.5, None)]
    assert tel.run_windows(three_runs("/r")[:1]) == [(None, None)]


def test_split_series_by_time_relabels_and_keeps_unreadable_lines_with_the_run_before():
    lines = [sample_line(i, 1000.0 + i) for i in range(0, 30)]
    lines.insert(12, '{"seq": 99, "ts": 10\n')  # cut line: goes with the sample before it (ts 1011, run 2)
    outs = [io.StringIO() for _ in range(3)]
    counts = tel.split_series(lines, three_runs("/r"), outs)
    assert counts == [11, 10, 9]  # 1000..1010 | 1011..1020 | 1021..1029
    parsed = [[json.loads(line) for line in out.getvalue().splitlines() if not line.startswith('{"seq": 99')]
              for out in outs]
    assert [s["ts"] for s in parsed[0]] == [1000.0 + i for i in range(11)]
    assert parsed[1][0]["ts"] == 1011.0 and parsed[2][-1]["ts"] == 1029.0
    assert {s["phase"] for s in parsed[1]} == {"run_20261205_070011"}
    assert '{"seq": 99, "ts": 10' in outs[1].getvalue()


def test_derived_snapshots_are_marked_and_genuine_ones_are_not():
    snap = {"hostname": "c1", "meminfo": {"MemTotal": 1}}
    assert tel.derived_snapshot(snap, "start", 1, 3) is snap
    assert tel.derived_snapshot(snap, "end", 3, 3) is snap
    marked = tel.derived_snapshot(snap, "start", 2, 3)
    assert marked["run_set"]["derived"] is True and marked["run_set"]["taken"] == "before run 1"
    assert tel.derived_snapshot(snap, "end", 1, 3)["run_set"]["taken"] == "after run 3"
    assert "run_set" not in snap


def archive(path, members):
    with tarfile.open(path, "w:gz") as packed:
        for name, text in members.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            packed.addfile(info, io.BytesIO(data))


def test_a_set_window_becomes_one_telemetry_tree_per_run(tmp_path):
    runs = three_runs(tmp_path / "run")
    staging = str(tmp_path / "run" / "20261205_070001" / "telemetry" / ".set-incoming")
    os.makedirs(staging)
    start = procfs.collect_snapshot(procfs.ProcReader(BIG), label="start", now=999.0)
    end = procfs.collect_snapshot(procfs.ProcReader(BIG), label="end", now=1031.0)
    for host, offset in (("client-a", 0.0), ("client-b", 0.3)):
        archive(os.path.join(staging, host + ".tgz"), {
            "series.jsonl": "".join(sample_line(i, 1000.0 + i + offset) for i in range(30)),
            "snapshot_start.json": json.dumps(start), "snapshot_end.json": json.dumps(end)})
    results = [{"host": h, "label": "runset", "sampler": {"samples": 30, "interval_target": 1.0,
                                                         "stop_reason": "stop_file"},
                "sampler_failed": False, "error": None} for h in ("client-a", "client-b")]
    summaries = tel.build_run_set_telemetry(runs, "training", results, staging,
                                            hosts_requested=["client-a", "client-b"], interval=1.0)
    assert sorted(summaries) == [r["timestamp"] for r in runs]
    assert not os.path.exists(staging)
    for number, run in enumerate(runs, 1):
        collect = run["collect_dir"]
        tree = sorted(os.path.relpath(os.path.join(d, f), collect) for d, _, fs in os.walk(collect) for f in fs)
        assert tree == sorted(["training_%s_timeseries.json" % run["timestamp"], "telemetry/client-a.jsonl",
                               "telemetry/client-b.jsonl", "telemetry/client-a_snapshot_start.json",
                               "telemetry/client-a_snapshot_end.json", "telemetry/client-b_snapshot_start.json",
                               "telemetry/client-b_snapshot_end.json", "telemetry/snapshot_diff.json",
                               "telemetry/summary.json"])
        with open(os.path.join(collect, "training_%s_timeseries.json" % run["timestamp"])) as handle:
            index = json.load(handle)
        assert [p["name"] for p in index["phases"]] == [run["phase"]]
        assert index["hosts_collected"] == ["client-a", "client-b"]
        summary = summaries[run["timestamp"]]
        assert summary["timeseries_data"]["file"] == "training_%s_timeseries.json" % run["timestamp"]
        with open(os.path.join(collect, "telemetry", "client-a_snapshot_start.json")) as handle:
            snap = json.load(handle)
        assert ("run_set" in snap) == (number != 1)
        with open(os.path.join(collect, "telemetry", "client-a_snapshot_end.json")) as handle:
            assert ("run_set" in json.load(handle)) == (number != 3)
    # every sample of every host is in exactly one run
    total = 0
    for run in runs:
        with open(os.path.join(run["collect_dir"], "telemetry", "client-b.jsonl")) as handle:
            total += sum(1 for _ in handle)
    assert total == 30


def test_bad_runs_are_refused_with_what_is_missing(tmp_path):
    with pytest.raises(tel.TelemetryError, match="non-empty list"):
        tel.build_run_set_telemetry([], "training", [], str(tmp_path))
    with pytest.raises(tel.TelemetryError, match=r"runs\[0\] lacks phase, start_epoch"):
        tel.build_run_set_telemetry([{"collect_dir": str(tmp_path), "timestamp": "20261205_070001"}],
                                    "training", [], str(tmp_path))
