# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The KV-cache run sequencer (roles/kvcache/files/mlperf_kvcache_runner.py): aggregation per rules.md §5.3 on the
published rank file and on altered copies, the option/trial sequence with its delays, and how the rules engine
judges the leaf it writes."""
import json
import os
import sys

import pytest

from _testpaths import CORPUS, REPO

from ansible_collections.mlperf.storage.plugins.plugin_utils import _kvcache_plan, _run_record
from ansible_collections.mlperf.storage.plugins.plugin_utils.rules import verify_run_dir

RUNNER = os.path.join(REPO, "roles", "kvcache", "files", "mlperf_kvcache_runner.py")
WRAPPER = os.path.join(REPO, "tests", "standins", "mlperf_wrapper.py")
PUBLISHED = os.path.join(CORPUS, "closed", "NewFW", "results", "Solidigm_D7-PS1010_7TB_Gen5_NVMe_TLC", "kv_cache",
                         "llama3.1-8b", "run", "20260713_173041")
RANK_FILE = os.path.join(PUBLISHED, "option_1", "trial_0", "rank_0", "kvcache_results_20260713_173043.json")


@pytest.fixture(scope="module")
def runner(load_script):
    return load_script(RUNNER)


@pytest.fixture
def rank_doc():
    if not os.path.exists(RANK_FILE):
        pytest.skip("the published results corpus (%s) is absent" % CORPUS)
    with open(RANK_FILE, encoding="utf-8") as handle:
        return json.load(handle)


def scaled(doc, factor, storage_entries=None):
    """An altered copy: every aggregated quantity multiplied by factor."""
    out = json.loads(json.dumps(doc))
    cache = out["summary"]["cache_stats"]
    for key in ("tier_storage_read_bandwidth_gbps", "tier_storage_write_bandwidth_gbps", "storage_read_device_p95_ms",
                "storage_write_device_p95_ms"):
        cache[key] *= factor
    for key in ("storage_throughput_tokens_per_sec", "avg_throughput_tokens_per_sec"):
        out["summary"][key] *= factor
    out["summary"]["storage_io_latency_ms"]["p95"] *= factor
    if storage_entries is not None:
        cache["storage_entries"] = storage_entries
    return out


def write_rank(leaf, option, trial, rank, doc):
    path = os.path.join(leaf, "option_%s" % option, "trial_%d" % trial, "rank_%d" % rank)
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, "kvcache_results_20260101_000000.json"), "w", encoding="utf-8") as handle:
        json.dump(doc, handle)


def test_rank_metrics_of_the_published_rank_file(runner, rank_doc):
    metrics = runner.rank_metrics(rank_doc)
    assert metrics["read_bandwidth_gbps"] == pytest.approx(14.421366368989649)
    assert metrics["write_bandwidth_gbps"] == pytest.approx(3.2220243617305577)
    assert metrics["device_read_p95_ms"] == pytest.approx(1482.7402425506082)
    assert metrics["device_write_p95_ms"] == pytest.approx(100.4873174970271)
    assert metrics["storage_throughput_tokens_per_sec"] == pytest.approx(22.608081360207418)
    assert metrics["p95_latency_ms"] == pytest.approx(19682.965795799824)
    assert metrics["storage_entries"] == 1631


def test_one_rank_one_trial_is_the_rank_itself(runner, rank_doc):
    agg = runner.aggregate_option("1", {0: {0: runner.rank_metrics(rank_doc)}}, 1)
    assert agg["aggregated_read_bandwidth_gbps"] == pytest.approx(14.421366368989649)
    assert agg["aggregated_device_read_p95_ms"] == pytest.approx(1482.7402425506082)
    assert agg["aggregated_p95_latency_ms"] == pytest.approx(19682.965795799824)
    assert agg["rank_count"] == 1 and agg["trial_count"] == 1 and not agg["partial_failure"]


def test_sum_over_ranks_mean_over_trials_max_of_p95(runner, rank_doc):
    m = {f: runner.rank_metrics(scaled(rank_doc, f)) for f in (1, 2, 3, 4)}
    # trial 0: ranks x1 + x2 = 3x; trial 1: ranks x3 + x4 = 7x -> mean 5x; P95: the largest, x4
    agg = runner.aggregate_option("2", {0: {0: m[1], 1: m[2]}, 1: {0: m[3], 1: m[4]}}, 2)
    base = runner.rank_metrics(rank_doc)
    for name, field in runner.SUMMED:
        assert agg[name] == pytest.approx(5 * base[field]), name
    for name, field in runner.MAXED:
        assert agg[name] == pytest.approx(4 * base[field]), name
    assert agg["option"] == 2 and agg["trial_count"] == 2 and agg["rank_count"] == 2


def test_cpu_tier_ranks_contribute_zero_and_are_listed(runner, rank_doc):
    storage = runner.rank_metrics(rank_doc)
    cpu = runner.rank_metrics(scaled(rank_doc, 10, storage_entries=0))
    agg = runner.aggregate_option("1", {0: {0: storage, 1: cpu}}, 2)
    assert agg["cpu_tier_ranks"] == [1]
    assert agg["aggregated_read_bandwidth_gbps"] == pytest.approx(storage["read_bandwidth_gbps"])
    assert agg["aggregated_device_read_p95_ms"] == pytest.approx(storage["device_read_p95_ms"])


def test_missing_rank_file_is_a_partial_failure(runner, rank_doc):
    agg = runner.aggregate_option("3", {0: {0: runner.rank_metrics(rank_doc), 1: None}}, 2)
    assert agg["partial_failure"] and agg["missing_files"] == ["option_3/trial_0/rank_1"]
    assert agg["aggregated_read_bandwidth_gbps"] == pytest.approx(14.421366368989649)


def test_aggregate_run_writes_the_summary_files(runner, rank_doc, tmp_path):
    leaf = tmp_path / "20260101_000000"
    for option in "123":
        for trial in range(2):
            for rank in range(2):
                write_rank(str(leaf), option, trial, rank, scaled(rank_doc, 1 + trial))
    summary = runner.aggregate_run(str(leaf), ["1", "2", "3"], 2, 2, 1, 2, {})
    assert summary["run_datetime"] == "20260101_000000" and summary["total_ranks"] == 2
    assert summary["host_count"] == 2 and summary["npernode"] == 1 and summary["trials_per_option"] == 2
    base = runner.rank_metrics(rank_doc)["read_bandwidth_gbps"]
    # trial 0: 2 ranks x1, trial 1: 2 ranks x2 -> mean of 2x and 4x
    assert summary["options"]["1"]["aggregated_read_bandwidth_gbps"] == pytest.approx(3 * base)
    assert json.loads((leaf / "summary.json").read_text()) == summary
    assert json.loads((leaf / "kvcache_run_summary.json").read_text()) == summary
    rows = json.loads((leaf / "results.json").read_text())
    assert [r["option"] for r in rows] == [1, 2, 3] and rows[0]["read_bandwidth_gbps"] == pytest.approx(3 * base)
    detail = json.loads((leaf / "option_2_results.json").read_text())
    assert [len(t["ranks"]) for t in detail["trials"]] == [2, 2] and detail["trials"][1]["ranks"][1]["error"] is None


def test_bad_rank_file_is_reported_not_raised(runner, tmp_path):
    rank_dir = tmp_path / "option_1" / "trial_0" / "rank_0"
    rank_dir.mkdir(parents=True)
    (rank_dir / "kvcache_results_1.json").write_text("{ truncated")
    metrics, error = runner.read_rank_file(str(rank_dir))
    assert metrics is None and "kvcache_results_1.json" in error


def test_spec_errors_are_specific(runner):
    with pytest.raises(runner.SpecError, match="not valid JSON"):
        runner.load_spec("{")
    with pytest.raises(runner.SpecError, match="'trials'"):
        runner.load_spec(json.dumps({"steps": [], "options": [], "total_ranks": 1, "inter_option_delay": 0}))
    with pytest.raises(runner.SpecError, match="step 0"):
        runner.load_spec(json.dumps({"steps": [{"option": "1", "trial": 0, "argv": []}], "options": ["1"],
                                     "trials": 1, "total_ranks": 1, "inter_option_delay": 0}))


def test_sequence_runs_every_step_sleeps_between_options_and_aggregates(runner, rank_doc, tmp_path, monkeypatch):
    monkeypatch.setenv("MLPERF_REPLAY_CORPUS", CORPUS)
    leaf = tmp_path / "20260101_000001"
    leaf.mkdir()
    cache = tmp_path / "cache"
    steps = []
    for option in ("1", "2"):
        for trial in range(2):
            argv = _kvcache_plan.wrapper_argv(sys.executable, WRAPPER, option, trial, str(cache), 42,
                                              {"model": "llama3.1-8b", "num_users": 10, "duration": 30,
                                               "gpu_mem_gb": 0, "cpu_mem_gb": 0, "max_concurrent_allocs": 16,
                                               "generation_mode": "none"})
            steps.append({"option": option, "trial": trial, "argv": argv})
    spec = runner.load_spec(json.dumps({"steps": steps, "options": ["1", "2"], "trials": 2, "total_ranks": 1,
                                        "npernode": 1, "host_count": 1, "inter_option_delay": 90}))
    slept = []
    assert runner.run_sequence(spec, str(leaf), sleep=slept.append) == 0
    assert slept == [90]  # once, between option 1 and option 2
    for option in ("1", "2"):
        for trial in range(2):
            out = (leaf / ("kvcache_opt%s_trial%d_20260101_000001.stdout.log" % (option, trial))).read_text()
            assert "Results saved to %s/option_%s/trial_%d/rank_0/" % (leaf, option, trial) in out
    summary = json.loads((leaf / "summary.json").read_text())
    assert sorted(summary["options"]) == ["1", "2"] and summary["trial_failures"] == {}
    assert summary["options"]["2"]["aggregated_read_bandwidth_gbps"] == pytest.approx(
        runner.rank_metrics(rank_doc)["read_bandwidth_gbps"])


def test_a_failing_trial_is_recorded_and_fails_the_run(runner, rank_doc, tmp_path):
    leaf = tmp_path / "20260101_000002"
    leaf.mkdir()
    write_rank(str(leaf), "1", 0, 0, rank_doc)
    spec = runner.load_spec(json.dumps({
        "steps": [{"option": "1", "trial": 0, "argv": [sys.executable, "-c", "pass"]},
                  {"option": "1", "trial": 1, "argv": [sys.executable, "-c", "import sys; sys.exit(3)"]}],
        "options": ["1"], "trials": 2, "total_ranks": 1, "inter_option_delay": 0}))
    assert runner.run_sequence(spec, str(leaf), sleep=lambda s: None) == 1
    summary = json.loads((leaf / "summary.json").read_text())
    assert summary["trial_failures"] == {"option_1/trial_1": 3}
    assert summary["options"]["1"]["missing_files"] == ["option_1/trial_1/rank_0"]


def _leaf_with_metadata(tmp_path, rank_doc, runner, plan_changes=None, drop_rank=None):
    req = {
        "edition": "3.0", "division": "closed",
        "clients": [{"host": "h", "mpi_host": "h", "memtotal_bytes": 1 << 36, "cores": 8}], "launcher": "h",
        "processes_per_host": 2, "options": [], "seed": 42, "trials": 3, "inter_option_delay": 90, "overrides": {},
        "config": None, "cache_dir": "/nvme/kv", "filesystems": {"same_filesystem": False},
        "engine": {"name": "kv-cache", "generation": "kv-cache-v3.0", "version": "3.0.0", "profile": "kvcache",
                   "lock_hash": "a" * 64},
        "mpi": {"implementation": "openmpi", "mpirun": "/usr/bin/mpirun", "run_as_root": True, "extra_args": []},
        "paths": {"results_dir": str(tmp_path / "results"), "work_dir": "/w", "venv_bin": "/kv/bin",
                  "runner": "/w/r.py", "spec": "/w/s.json"},
        "org": "org", "system": "sys", "allow_invalid": False,
    }
    req.update(plan_changes or {})
    plan = _kvcache_plan.plan_kvcache(req)
    assert plan["errors"] == []
    ts = "20260101_000003"
    leaf = os.path.join(plan["paths"]["run_base"], ts)
    for option in "123":
        for trial in range(3):
            for rank in range(2):
                if (option, trial, rank) != drop_rank:
                    write_rank(leaf, option, trial, rank, rank_doc)
    runner.aggregate_run(leaf, ["1", "2", "3"], 3, 2, 2, 1, {})
    status = {"rc": 0, "start": "2026-01-01T00:00:03+00:00", "end": "2026-01-01T01:00:00+00:00",
              "duration_seconds": 3597.0, "ended_by": "exit"}
    meta = _run_record.run_metadata(plan, "run", leaf, ts, status=status)
    with open(os.path.join(leaf, "kv_cache_%s_metadata.json" % ts), "w", encoding="utf-8") as handle:
        json.dump(meta, handle)
    return leaf


def test_rules_engine_judges_the_aggregated_leaf_closed(runner, rank_doc, tmp_path):
    leaf = _leaf_with_metadata(tmp_path, rank_doc, runner)
    result = verify_run_dir(leaf)
    assert result["verdict"] == "CLOSED", [i["message"] for i in result["issues"] if i["validation"] != "CLOSED"]
    assert any(i["rule_id"] == "6.3.4" and i["validation"] == "CLOSED" for i in result["issues"])


def test_rules_engine_fails_a_leaf_with_a_lost_rank(runner, rank_doc, tmp_path):
    leaf = _leaf_with_metadata(tmp_path, rank_doc, runner, drop_rank=("2", 1, 1))
    result = verify_run_dir(leaf)
    assert result["verdict"] == "INVALID"
    assert any("option 2 lost 1 of 2 rank result files" in i["message"] for i in result["issues"])


def test_published_leaf_shape_matches_ours(runner):
    """Our summary has every key of the published one (plus the device P95 fields of rules.md §5.3)."""
    path = os.path.join(PUBLISHED, "summary.json")
    if not os.path.exists(path):
        pytest.skip("the published results corpus (%s) is absent" % CORPUS)
    with open(path, encoding="utf-8") as handle:
        published = json.load(handle)
    ours = runner.summarize("x", [runner.aggregate_option("1", {0: {0: None}}, 1)], 1, 1, 1, 1, {})
    assert set(published) <= set(ours)
    assert set(published["options"]["1"]) <= set(ours["options"]["1"])


def test_rules_engine_allows_the_program_features_of_an_open_leaf(runner, rank_doc, tmp_path):
    features = {"enable_rag": True, "rag_num_docs": 4, "performance_profile": "throughput"}
    leaf = _leaf_with_metadata(tmp_path, rank_doc, runner, {"division": "open", "features": features})
    with open(os.path.join(leaf, "kv_cache_20260101_000003_metadata.json"), encoding="utf-8") as handle:
        meta = json.load(handle)
    assert meta["args"]["enable_rag"] is True and meta["args"]["rag_num_docs"] == 4
    assert meta["parameters"]["features"] == features
    result = verify_run_dir(leaf)
    assert result["verdict"] == "CLOSED", [i["message"] for i in result["issues"] if i["validation"] != "CLOSED"]
    allowed = sorted(i["parameter"] for i in result["issues"] if i["rule_id"] == "6.6.2")
    assert allowed == sorted("options.%s.%s" % (o, k) for o in "123" for k in features)
