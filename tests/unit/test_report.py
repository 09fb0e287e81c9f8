# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The report core (plugins/plugin_utils/report): telemetry columns, plots, HTML page, rollups, systems yaml.

Rollups are checked against the published corpus (a copy in a temp dir: the report writes into the tree) with
the expected numbers recomputed here from the runs' own summary files; the page is checked on a small tree
with fabricated telemetry whose shape is what proc_sampler and the telemetry role write.
"""
import csv
import io
import json
import os
import re
import shutil
from datetime import datetime, timezone

import pytest
import yaml

from _testpaths import CORPUS
from ansible_collections.mlperf.storage.plugins.plugin_utils import report as report_pkg
from ansible_collections.mlperf.storage.plugins.plugin_utils.report import (
    ReportError, build_report, plots, rollups, series, systems)
from ansible_collections.mlperf.storage.plugins.plugin_utils.rules import verify_tree

TS = "20260101_120000"
RUN_REL = "closed/acme/results/sys1/training/unet3d/run/" + TS
T0 = 1767268800.0  # 2026-01-01 12:00:00 UTC


def corpus_copy(tmp_path):
    if not os.path.isdir(os.path.join(CORPUS, "closed")):
        pytest.skip("the published results corpus is not at %s (set MLPERF_CORPUS)" % CORPUS)
    dest = tmp_path / "corpus"
    shutil.copytree(CORPUS, dest)
    return dest


def sample(seq, ts, phase, read_bps, busy):
    return {"seq": seq, "ts": ts, "time": "", "dt": 1.0, "host": "h", "phase": phase,
            "cpu": {"user": busy - 5, "system": 5, "iowait": 3.0, "steal": 0, "idle": 100.0 - busy},
            "mem": {"total": 8 << 30, "used": 2 << 30, "cached": 1 << 30},
            "disk": {"nvme0n1": {"read_bytes_per_s": read_bps, "write_bytes_per_s": 0.0, "read_iops": read_bps / 4096,
                                 "write_iops": 0.0},
                     "nvme1n1": {"read_bytes_per_s": read_bps, "write_bytes_per_s": 1024.0, "read_iops": 1.0,
                                 "write_iops": 2.0}},
            "net": {"eth0": {"rx_bytes_per_s": 100.0, "tx_bytes_per_s": 50.0}}}


def host_entry(name):
    return {"hostname": name, "inventory_hostname": name,
            "memory": {"total": 64 << 30}, "cpu": {"num_cores": 16, "num_sockets": 2, "model": "Example CPU 9000"},
            "network": [{"interface_name": "lo"}, {"interface_name": "eth0"}, {"interface_name": "ib0"}],
            "system": {"os_release": {"NAME": "Debian GNU/Linux", "VERSION": "12 (bookworm)"}}}


def make_tree(root, hosts=("h1", "h2"), telemetry=True):
    """A run leaf with complete metadata and (optionally) the telemetry files the telemetry role writes."""
    run = root / RUN_REL
    (run / "telemetry").mkdir(parents=True)
    meta = {
        "benchmark_type": "training", "model": "unet3d", "command": "run", "run_datetime": TS,
        "num_processes": 2, "accelerator": "b200",
        "parameters": {"model": {"name": "unet3d"}, "workflow": {"train": True},
                       "dataset": {"num_files_train": 3, "data_folder": "/data/unet3d"}},
        "override_parameters": {}, "runtime": 42.5, "exit_status": 0,
        "executed_command": "mpirun -n 2 dlio_benchmark workload=unet3d_b200 ++workload.dataset.num_files_train=3",
        "command_output_files": [{"command": "run", "stdout": "training_run.stdout.log",
                                  "stderr": "training_run.stderr.log"}],
        "system_info": {"num_hosts": len(hosts), "hosts": [host_entry(h) for h in hosts]},
    }
    (run / ("training_%s_metadata.json" % TS)).write_text(json.dumps(meta))
    if not telemetry:
        return run
    index_hosts = {}
    for pos, host in enumerate(hosts):
        lines = [json.dumps(sample(i, T0 + i, "run_" + TS if 3 <= i < 8 else "idle", 1e8 * (pos + 1), 50.0))
                 for i in range(10)]
        lines.append('{"seq": 10, "ts": ')  # a SIGKILL cut the last line
        (run / "telemetry" / ("%s.jsonl" % host)).write_text("\n".join(lines) + "\n")
        index_hosts[host] = {"file": "telemetry/%s.jsonl" % host, "samples": 10}
        (run / "telemetry" / ("%s_snapshot_start.json" % host)).write_text(json.dumps(
            {"tunables": {"sysctl": {"vm.swappiness": 60}},
             "paths": {"data_dir": {"block_device": {"name": "nvme0n1", "rotational": False}}}}))
    (run / "telemetry" / "snapshot_diff.json").write_text(json.dumps(
        {"h1": {"memory": {"Cached": {"start": 100, "end": 900, "delta": 800}},
                "tunables": {"vm.swappiness": {"start": 60, "end": 10}}}, "h2": {}}))
    index = {"collection_interval_seconds": 1.0, "hosts": index_hosts,
             "phases": [{"name": "run_" + TS, "start_time": "2026-01-01T12:00:03.000Z",
                         "end_time": "2026-01-01T12:00:07.000Z"}],
             "snapshot_diff_file": "telemetry/snapshot_diff.json", "warnings": ["h2: 1 gap(s) longer than 2 s"]}
    (run / ("training_%s_timeseries.json" % TS)).write_text(json.dumps(index))
    return run


# ------------------------------------------------------------------------------------------- series

def test_series_sums_devices_and_skips_a_cut_line():
    lines = [json.dumps(sample(0, T0, "p", 10.0, 40.0)), "", '{"seq": 1, "ts"', json.dumps(sample(1, T0 + 1, "p", 30.0,
                                                                                                   60.0))]
    cols, bad = series.read_series(lines)
    assert bad == 1
    assert cols["t"] == [T0, T0 + 1]
    assert cols["disk_read_Bps"] == [20.0, 60.0]  # two devices summed
    assert cols["disk_write_Bps"] == [1024.0, 1024.0]
    assert cols["cpu_busy_pct"] == [40.0, 60.0]
    assert cols["net_rx_Bps"] == [100.0, 100.0]


def test_series_missing_sections_are_gaps_not_zeroes():
    cols, _ = series.read_series([json.dumps({"seq": 0, "ts": T0})])
    assert cols["disk_read_Bps"] == [None] and cols["cpu_busy_pct"] == [None]


def test_downsample_keeps_bucket_means_and_gaps():
    cols = {"t": list(range(10)), "x": [1, 3, None, None, 5, 7, 0, 0, 2, 2]}
    out = series.downsample(cols, max_points=5)
    assert out["t"] == [0.5, 2.5, 4.5, 6.5, 8.5]
    assert out["x"] == [2.0, None, 6.0, 0.0, 2.0]
    assert series.downsample(cols, max_points=10) is cols


def test_run_without_telemetry_says_so(tmp_path):
    run = make_tree(tmp_path, telemetry=False)
    tel = series.load_run_telemetry(str(run))
    assert not tel.has_series and "no time series" in tel.notes[0]


def test_unreadable_index_is_a_note(tmp_path):
    run = make_tree(tmp_path, telemetry=False)
    (run / "training_x_timeseries.json").write_text("{not json")
    tel = series.load_run_telemetry(str(run))
    assert not tel.has_series and "cannot be read" in tel.notes[0]


# ------------------------------------------------------------------------------------------- page

def test_page_has_one_plot_per_host_phases_verdict_commands_and_diffs(tmp_path):
    make_tree(tmp_path)
    out = build_report(str(tmp_path), write_systems=False)
    page = (tmp_path / report_pkg.HTML_NAME).read_text()
    assert out["html_file"] == str(tmp_path / report_pkg.HTML_NAME)
    verdict = verify_tree(str(tmp_path)).to_dict()["verdict"]
    assert out["verdict"] == verdict
    assert '<span id="verdict" class="verdict %s big">%s</span>' % (verdict, verdict) in page
    # one figure per host, rendered by matplotlib, inline; the shaded phase is labelled in the figure
    assert page.count("<svg class=\"plot\"") == 2 == out["plots"]
    assert "training run %s - h1" % TS in page and "training run %s - h2" % TS in page
    assert len(re.findall(r"<text [^>]*> run_%s</text>" % TS, page)) == 2
    # the phase is shaded behind each of the five panels of both hosts
    assert page.count("fill: %s" % plots.PHASE_COLOURS[0]) == 2 * len(plots.PANELS)
    assert "Disk throughput" in page and "Network" in page
    # the exact command, the start/end differences, the telemetry warnings, the cut line
    assert "++workload.dataset.num_files_train=3" in page
    assert "memory.Cached" in page and "tunables.vm.swappiness" in page
    assert "nothing changed between the start and end snapshots" in page  # h2
    assert "1 gap(s) longer than 2 s" in page
    assert "1 unreadable line(s) skipped" in page
    # offline: no scripts, no remote resources
    assert "<script" not in page and "<link" not in page and "@import" not in page
    assert not re.search(r"""(src|href)=["'](https?:)?//""", page)
    assert "<metadata>" not in page


def test_png_plots_are_data_uri_images(tmp_path):
    make_tree(tmp_path, hosts=("h1",))
    out = build_report(str(tmp_path), write_systems=False, plot_format="png")
    page = (tmp_path / report_pkg.HTML_NAME).read_text()
    assert out["plots"] == 1 and page.count('<img class="plot" alt="time series" src="data:image/png;base64,') == 1


def test_without_matplotlib_the_page_says_why(tmp_path, monkeypatch):
    make_tree(tmp_path, hosts=("h1",))

    def missing():
        raise plots.PlotUnavailable("matplotlib is not installed in the controller's Python")

    monkeypatch.setattr(plots, "_pyplot", missing)
    out = build_report(str(tmp_path), write_systems=False)
    page = (tmp_path / report_pkg.HTML_NAME).read_text()
    assert out["plots"] == 0 and "<svg" not in page
    assert "matplotlib is not installed" in page and out["notes"]


def test_figures_are_drawn_once_kept_beside_the_page_and_removed_with_their_run(tmp_path):
    run = make_tree(tmp_path)
    when = datetime(2026, 12, 5, 12, 0, tzinfo=timezone.utc)
    first = build_report(str(tmp_path), write_systems=False, now=when)
    page = (tmp_path / report_pkg.HTML_NAME).read_text()
    cache = tmp_path / report_pkg.FIGURE_CACHE
    assert first["figures_drawn"] == first["plots"] == 2 and len(list(cache.iterdir())) == 2
    (cache / "notes.txt").write_text("not a figure of the cache\n")
    # the same data: nothing drawn again, the same page
    second = build_report(str(tmp_path), write_systems=False, now=when)
    assert second["figures_drawn"] == 0 and second["plots"] == 2
    assert (tmp_path / report_pkg.HTML_NAME).read_text() == page
    # one host's series changed: that figure alone is drawn again, and the one it replaces goes
    series_file = run / "telemetry" / "h1.jsonl"
    series_file.write_text(series_file.read_text().replace('"idle": 50.0', '"idle": 20.0', 1))
    third = build_report(str(tmp_path), write_systems=False, now=when)
    assert third["figures_drawn"] == 1 and len([p for p in cache.iterdir() if p.suffix == ".html"]) == 2
    # the run left the tree: its figures leave the cache; a file the cache did not write stays
    shutil.rmtree(str(run))
    fourth = build_report(str(tmp_path), write_systems=False, now=when)
    assert fourth["plots"] == 0 and sorted(p.name for p in cache.iterdir()) == ["notes.txt"]


def test_check_mode_writes_nothing(tmp_path):
    make_tree(tmp_path)
    before = sorted(str(p) for p in tmp_path.rglob("*"))
    out = build_report(str(tmp_path), check_mode=True)
    assert sorted(str(p) for p in tmp_path.rglob("*")) == before
    assert out["html_file"].endswith(report_pkg.HTML_NAME) and out["systems"][0]["written"] is False


@pytest.mark.parametrize("kwargs,expected", [
    ({"results_dir": "/nonexistent/results"}, "results_dir /nonexistent/results is not a directory"),
    ({"results_dir": "", }, "results_dir is required"),
    ({"plot_format": "gif"}, "plot_format must be one of svg, png"),
    ({"package_dir": "INSIDE"}, "must be outside the results tree"),
])
def test_bad_arguments_are_explained(tmp_path, kwargs, expected):
    make_tree(tmp_path, telemetry=False)
    args = {"results_dir": str(tmp_path)}
    args.update(kwargs)
    if args.get("package_dir") == "INSIDE":
        args["package_dir"] = str(tmp_path / "pkg")
    with pytest.raises(ReportError) as err:
        build_report(args.pop("results_dir"), **args)
    assert expected in str(err.value)


# ------------------------------------------------------------------------------------------- systems

def test_systems_yaml_from_host_facts(tmp_path):
    make_tree(tmp_path)
    out = build_report(str(tmp_path))
    target = tmp_path / "closed" / "acme" / "systems" / "sys1.yaml"
    assert out["systems"][0]["file"] == str(target) and out["systems"][0]["written"]
    text = target.read_text()
    assert text.startswith(systems.GENERATED_MARK)
    sut = yaml.safe_load(text)["system_under_test"]
    assert sut["solution"]["submission_name"] == "sys1"
    assert sut["solution"]["capabilities"]["multi_host"] is True
    (client,) = sut["clients"]  # two identical hosts are one entry
    assert client["quantity"] == 2
    assert client["chassis"] == {"model_name": "FILL IN", "cpu_model": "Example CPU 9000", "cpu_qty": 2,
                                 "cpu_cores": 16, "memory_capacity": 64}
    assert sorted((n["type"], n["unit_count"]) for n in client["networking"]) == [("ethernet", 1), ("infiniband", 1)]
    assert client["sysctl"] == [{"name": "vm.swappiness", "value": "60"}]
    assert client["drives"][0]["interface"] == "nvme"
    assert client["operating_system"] == {"name": "Debian GNU/Linux", "version": "12 (bookworm)"}
    assert "system_under_test.deployment" in out["systems"][0]["open_fields"]


def test_systems_description_fills_the_product_fields_and_hand_written_files_stay(tmp_path):
    make_tree(tmp_path)
    description = {"solution": {"friendly_description": "NFS appliance", "availability": "available"},
                   "deployment": "onprem"}
    out = build_report(str(tmp_path), system_description=description)
    sut = yaml.safe_load(open(out["systems"][0]["file"]))["system_under_test"]
    assert sut["deployment"] == "onprem" and sut["solution"]["friendly_description"] == "NFS appliance"
    assert sut["solution"]["submission_name"] == "sys1"  # merged, not replaced
    assert "system_under_test.deployment" not in out["systems"][0]["open_fields"]

    target = tmp_path / "closed" / "acme" / "systems" / "sys1.yaml"
    target.write_text("system_under_test: {deployment: cloud}\n")  # hand-written now
    again = build_report(str(tmp_path))
    assert again["systems"][0]["written"] is False and "hand-written" in again["systems"][0]["reason"]
    assert target.read_text() == "system_under_test: {deployment: cloud}\n"
    forced = build_report(str(tmp_path), overwrite_systems=True)
    assert forced["systems"][0]["written"] and target.read_text().startswith(systems.GENERATED_MARK)


# ------------------------------------------------------------------------------------------- rollups

def _summary_metric(run_dir, key):
    with open(os.path.join(run_dir, "summary.json")) as handle:
        return json.load(handle)["metric"][key]


def test_rollups_on_the_published_corpus(tmp_path):
    root = corpus_copy(tmp_path)
    before = verify_tree(str(root)).to_dict()
    out = build_report(str(root), write_systems=False, with_plots=False)

    # training: warm-up (chronologically first of six) excluded, mean of five, MiB/s -> GiB/s, two decimals
    base = root / "closed" / "Alluxio" / "results" / "aws_c5n18xlarge_i3en24xlarge_8c_10s_8a" / "training" / "unet3d"
    leaves = sorted(p for p in (base / "run").iterdir() if p.is_dir())
    assert len(leaves) == 6
    measured = leaves[1:]
    expected_bw = sum(_summary_metric(str(p), "train_io_mean_MB_per_second") for p in measured) / 5 / 1024
    per_leaf_au = [sum(v) / len(v) for v in (_summary_metric(str(p), "train_au_percentage") for p in measured)]
    doc = json.loads((base / "run" / "results.json").read_text())
    assert doc["result"]["Read B/W (GiB/s)"] == round(expected_bw, 2)
    assert doc["result"]["Runs"] == 6 and doc["result"]["Verdict"] == "CLOSED"
    assert doc["metrics"]["train_mean_of_au_percentage"] == pytest.approx(sum(per_leaf_au) / 5, abs=1e-3)
    roles = dict((r["path"].rsplit("/", 1)[-1], r["role"]) for r in doc["runs"] if r["command"] == "run")
    assert roles[leaves[0].name] == "warm-up" and all(roles[p.name] == "measured" for p in measured)
    rows = list(csv.DictReader(io.StringIO((base / "run" / "results.csv").read_text())))
    assert len(rows) == 1 and rows[0]["Read B/W (GiB/s)"] == str(round(expected_bw, 2))
    assert list(rows[0])[:9] == list(rollups.IDENTITY)

    # checkpointing: model folder itself (no command level); write and read phases in separate leaves
    ckpt = root / "closed" / "NewFW" / "results" / "Solidigm_D7-PS1010_7TB_Gen5_NVMe_TLC" / "checkpointing" / "llama3-8b"
    cdoc = json.loads((ckpt / "results.json").read_text())
    write_leaf, read_leaf = sorted(p for p in ckpt.iterdir() if p.is_dir())
    assert cdoc["result"]["Write B/W (GiB/s)"] == round(
        _summary_metric(str(write_leaf), "save_checkpoint_io_mean_GB_per_second"), 2)
    assert cdoc["result"]["Read Duration (secs)"] == round(
        _summary_metric(str(read_leaf), "load_checkpoint_duration_mean_seconds"), 2)

    # vector database: <INDEX>/run/, recall published as a percentage
    vdb = root / "closed" / "NewFW" / "results" / "Solidigm_D7-PS1010_7TB_Gen5_NVMe_TLC" / "vector_database" / \
        "milvus" / "DISKANN" / "run"
    vdoc = json.loads((vdb / "results.json").read_text())
    assert vdoc["result"]["Recall Percentage"] == round(vdoc["metrics"]["recall"] * 100, 2)
    assert vdoc["result"]["Runs"] == 5

    # organisation level: one row per result of the org
    org = json.loads((root / "closed" / "NewFW" / "results" / "results.json").read_text())
    assert sorted(r["Benchmark"] for r in org["results"]) == ["checkpointing", "kv_cache", "training",
                                                               "vector_database"]
    org_rows = list(csv.DictReader(io.StringIO((root / "closed" / "NewFW" / "results" / "results.csv").read_text())))
    assert len(org_rows) == 4 and "Queries per Sec" in org_rows[0]
    assert str(root / "closed" / "NewFW" / "results" / "results.csv") in out["rollup_files"]

    # the rollups are not run directories: verdicts are the same after writing them
    after = verify_tree(str(root)).to_dict()
    assert [(r["path"], r["verdict"]) for r in after["runs"]] == [(r["path"], r["verdict"]) for r in before["runs"]]
    assert [s["verdict"] for s in after["submissions"]] == [s["verdict"] for s in before["submissions"]]


def test_corpus_page_without_time_series_and_hand_written_systems_kept(tmp_path):
    root = corpus_copy(tmp_path)
    originals = dict((p, p.read_bytes()) for p in root.glob("*/*/systems/*.yaml"))
    out = build_report(str(root))
    page = (root / report_pkg.HTML_NAME).read_text()
    assert "no time series in this run directory" in page
    assert all(p.read_bytes() == data for p, data in originals.items())
    assert all(not s["written"] for s in out["systems"] if os.path.exists(s["file"]) and
               os.path.join(*s["file"].split(os.sep)[-3:]) in [os.path.join(*str(p).split(os.sep)[-3:])
                                                                for p in originals])
    # a result chart per multi-run result (training six runs, vdb five): the plots are real images
    assert out["plots"] >= 3 and page.count("<svg class=\"plot\"") == out["plots"]


def test_package_export_copies_the_org_trees(tmp_path):
    root = corpus_copy(tmp_path)
    dest = tmp_path / "package"
    out = build_report(str(root), with_plots=False, write_systems=False, package_dir=str(dest))
    assert (dest / "closed" / "HolmesAI" / "results" / "StorMeshAI" / "training" / "retinanet" / "run"
            / "results.json").exists()
    assert (dest / "closed" / "HolmesAI" / "systems" / "StorMeshAI.yaml").read_bytes() == (
        root / "closed" / "HolmesAI" / "systems" / "StorMeshAI.yaml").read_bytes()
    assert not (dest / "ApparentProblems.md").exists() and not (dest / report_pkg.HTML_NAME).exists()
    assert str(dest / "open" / "FarmGPU" / "results") in out["package_files"]
