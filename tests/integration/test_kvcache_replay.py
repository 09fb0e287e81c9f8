# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The KV-cache benchmark through the whole collection path, with a recorded per-rank output (the upstream kv-cache
program is not installable here; see tests/standins/README.md and docs/kvcache.md).

playbooks/run_kvcache.yml runs on localhost the way AWX runs it (ansible-runner): preflight against a scratch
kv-cache environment, the plan, ONE run leaf whose engine process is the role's sequencer, which starts every
option/trial as a real Open MPI job of the wrapper stand-in with the exact command the plan built, waits between
options, and aggregates the rank files; then metadata, checksums, collection and verification.
"""
import json
import os
import shutil

import pytest

from _faultkit import assert_refused_up_front, standin_venv
from _testpaths import CORPUS, REPO
from harness.plays import artifact_data, run_project_playbook

from ansible_collections.mlperf.storage.plugins.plugin_utils.rules import verify_run_dir

ansible_runner = pytest.importorskip("ansible_runner")

pytestmark = pytest.mark.integration

STANDINS = os.path.join(REPO, "tests", "standins")
RANK_FILE = os.path.join(CORPUS, "closed", "NewFW", "results", "Solidigm_D7-PS1010_7TB_Gen5_NVMe_TLC", "kv_cache",
                         "llama3.1-8b", "run", "20260713_173041", "option_1", "trial_0", "rank_0",
                         "kvcache_results_20260713_173043.json")


def _require_engine_host():
    if not os.path.exists(RANK_FILE):
        pytest.skip("the published results corpus (%s) is absent: nothing to replay" % CORPUS)
    if not os.path.exists("/usr/bin/mpirun") or not shutil.which("mpirun"):
        pytest.skip("Open MPI (Debian openmpi-bin, /usr/bin/mpirun) is not installed")


def scratch_env(base):
    """A venv holding only the stand-in's record (what the replay lock pins) and the wrapper stand-in."""
    env = standin_venv(base / "kvenv")
    # where the plan expects the upstream wrapper: a launcher of the stand-in that knows the corpus
    (env / "bin" / "mlperf_wrapper.py").write_text(
        "import os, runpy\nos.environ.setdefault('MLPERF_REPLAY_CORPUS', %r)\nrunpy.run_path(%r, run_name='__main__')\n"
        % (CORPUS, os.path.join(STANDINS, "mlperf_wrapper.py")))
    return {"kvcache_env_dir": str(env), "python_env_lock_file": os.path.join(STANDINS, "locks", "replay-kvcache.txt")}


def run_playbook(tmp_path, extravars, name):
    return run_project_playbook(tmp_path, "playbooks/run_kvcache.yml", extravars, name)


@pytest.fixture
def dirs(tmp_path):
    out = {name: tmp_path / name for name in ("results", "work", "data")}
    for path in out.values():
        path.mkdir()
    shm = "/dev/shm"
    out["cache"] = (shm + "/mlperf-kv-replay-%d" % os.getpid()) if os.access(shm, os.W_OK) else str(tmp_path / "c")
    os.makedirs(out["cache"], exist_ok=True)
    yield out
    shutil.rmtree(out["cache"], ignore_errors=True)


def base_vars(dirs, tmp_path):
    return dict({
        "mlperf_results_dir": str(dirs["results"]), "mlperf_data_dir": str(dirs["data"]),
        "mlperf_work_dir": str(dirs["work"]), "mlperf_org": "replay", "mlperf_allow_invalid": False,
        "mlperf_params": {}, "mpi_source": "os", "mpi_implementation": "openmpi", "kvcache_cache_dir": dirs["cache"],
        "kvcache_processes_per_host": 2, "kvcache_progress_interval": 2,
    }, **scratch_env(tmp_path))


def test_kvcache_open_run_replayed_and_aggregated(tmp_path, dirs):
    _require_engine_host()
    extravars = dict(base_vars(dirs, tmp_path), mlperf_division="open", kvcache_trials=2,
                     kvcache_inter_option_delay=2)
    result, out = run_playbook(tmp_path, extravars, "open")
    assert "Traceback" not in out
    model_dir = dirs["results"] / "open" / "replay" / "results" / "localhost" / "kv_cache" / "llama3.1-8b"
    leaves = sorted(p for p in (model_dir / "run").iterdir() if p.is_dir())
    assert len(leaves) == 1, out[-3000:]  # ONE leaf for 3 options x 2 trials
    leaf = leaves[0]
    ts = leaf.name
    assert result.rc == 0, out[-4000:]
    meta = json.loads((leaf / ("kv_cache_%s_metadata.json" % ts)).read_text())
    assert meta["benchmark_type"] == "kv_cache" and meta["command"] == "run" and meta["model"] == "llama3.1-8b"
    assert meta["num_processes"] == 2 and meta["exit_status"] == 0 and meta["complete"] is True
    assert meta["args"]["seed"] == 42 and meta["args"]["trials"] == 2 and meta["args"]["inter_option_delay"] == 2
    assert meta["engine"]["name"] == "kv-cache"
    assert len(meta["kvcache_invocations"]) == 6
    # every option/trial ran as an MPI job of the wrapper with the option's flags, logs per trial
    for option, users, allocs in (("1", "200", "16"), ("2", "100", "16"), ("3", "70", "4")):
        for trial in range(2):
            stdout = (leaf / ("kvcache_opt%s_trial%d_%s.stdout.log" % (option, trial, ts))).read_text()
            assert "%s users" % users in stdout and "rank 1" in stdout
            # the stand-in found the published option that ran exactly these values and replayed its own output
            assert "replaying published option %s" % option in stdout and "Users: %s\n" % users in stdout
            assert "Max Concurrent Allocations: %s " % allocs in stdout
            for rank in range(2):
                assert list((leaf / ("option_%s" % option) / ("trial_%d" % trial) / ("rank_%d" % rank))
                            .glob("kvcache_results_*.json"))
            assert os.path.isdir(os.path.join(dirs["cache"], "rank_1"))
        command = [i for i in meta["kvcache_invocations"] if i["option"] == option][0]["command"]
        assert "--num-users %s" % users in command and "--max-concurrent-allocs %s" % allocs in command
        assert "--seed-base 42" in command and "--rank-cache-base %s" % dirs["cache"] in command
    # the sequencer waited between options, not before the first or after the last
    progress = (leaf / "kvcache_progress.log").read_text()
    assert progress.count("waiting 2 s before option") == 2
    # aggregation: every rank replays the same recorded file, so sums are 2x the rank's value, maxima equal it
    recorded = json.loads(open(RANK_FILE).read())["summary"]
    summary = json.loads((leaf / "summary.json").read_text())
    assert summary == json.loads((leaf / "kvcache_run_summary.json").read_text())
    assert summary["total_ranks"] == 2 and summary["trials_per_option"] == 2 and not summary["partial_failure"]
    for option in ("1", "2", "3"):
        agg = summary["options"][option]
        assert agg["aggregated_read_bandwidth_gbps"] == pytest.approx(
            2 * recorded["cache_stats"]["tier_storage_read_bandwidth_gbps"])
        assert agg["aggregated_device_read_p95_ms"] == pytest.approx(recorded["cache_stats"]["storage_read_device_p95_ms"])
        assert agg["rank_count"] == 2 and agg["trial_count"] == 2 and agg["missing_files"] == []
    rows = json.loads((leaf / "results.json").read_text())
    assert [r["option"] for r in rows] == [1, 2, 3]
    assert len(json.loads((leaf / "option_2_results.json").read_text())["trials"]) == 2
    assert json.loads((leaf / "fs_separation.json").read_text())["same_filesystem"] is (
        os.stat(dirs["cache"]).st_dev == os.stat(str(dirs["results"])).st_dev)
    assert "summary.json" in (leaf / "CHECKSUMS.sha256").read_text()
    # filed under open/, but every option ran its Table KVCache-1 values and nothing OPEN-only was used (the open
    # division only lifts the sequence locks): the verdict is CLOSED, with each option confirmed from its command
    assert artifact_data(result)["mlperf_verdict"] == "CLOSED"
    checked = [i for i in verify_run_dir(str(leaf))["issues"] if i["rule_id"] == "6.3.1.1"]
    assert [(i["validation"], i["message"]) for i in checked] == [
        ("CLOSED", "options 1, 2, 3 ran the Table KVCache-1 values")]


def test_kvcache_closed_with_a_changed_seed_is_refused_before_anything_runs(tmp_path, dirs):
    _require_engine_host()
    extravars = dict(base_vars(dirs, tmp_path), mlperf_division="closed", kvcache_seed=7)
    result, out = run_playbook(tmp_path, extravars, "seed")
    assert_refused_up_front(result, out, dirs["results"], "[kvcache_seed]", "CLOSED locks seed=42 but the run used 7")


def test_kvcache_closed_cache_and_results_on_one_filesystem_refused(tmp_path, dirs):
    _require_engine_host()
    extravars = dict(base_vars(dirs, tmp_path), mlperf_division="closed",
                     kvcache_cache_dir=str(dirs["data"]))  # data/ and results/ share the test's filesystem
    result, out = run_playbook(tmp_path, extravars, "samefs")
    assert_refused_up_front(result, out, dirs["results"], "[kvcache_cache_dir]", "are on the same filesystem")


def test_kvcache_open_program_features_reach_every_rank_and_the_record(tmp_path, dirs):
    """The feature variables through the role, the plan and the wrapper command to every rank (the stand-in takes
    them with kv-cache.py's own types and choices), recorded in the metadata and allowed by the verifier in OPEN."""
    _require_engine_host()
    extravars = dict(base_vars(dirs, tmp_path), mlperf_division="open", kvcache_options=["2"], kvcache_trials=1,
                     kvcache_inter_option_delay=0, kvcache_enable_rag=True, kvcache_rag_num_docs="3",
                     kvcache_performance_profile="throughput", kvcache_disable_prefix_caching="yes")
    result, out = run_playbook(tmp_path, extravars, "features")
    assert result.rc == 0 and "Traceback" not in out, out[-4000:]
    model_dir = dirs["results"] / "open" / "replay" / "results" / "localhost" / "kv_cache" / "llama3.1-8b"
    [leaf] = [p for p in (model_dir / "run").iterdir() if p.is_dir()]
    ts = leaf.name
    meta = json.loads((leaf / ("kv_cache_%s_metadata.json" % ts)).read_text())
    [invocation] = meta["kvcache_invocations"]
    assert invocation["command"].endswith("--generation-mode none --disable-prefix-caching --enable-rag "
                                          "--rag-num-docs 3 --performance-profile throughput")
    assert meta["args"]["enable_rag"] is True and meta["args"]["rag_num_docs"] == 3
    assert meta["args"]["disable_prefix_caching"] is True and meta["args"]["enable_autoscaling"] is False
    assert meta["args"]["performance_profile"] == "throughput" and meta["args"]["autoscaler_mode"] is None
    stdout = (leaf / ("kvcache_opt2_trial0_%s.stdout.log" % ts)).read_text()
    assert stdout.count("program features: --disable-prefix-caching, --enable-rag, --rag-num-docs 3, "
                        "--performance-profile throughput") == 2  # both ranks
    assert artifact_data(result)["mlperf_verdict"] == "CLOSED"
    allowed = sorted(i["parameter"] for i in verify_run_dir(str(leaf))["issues"]
                     if i["rule_id"] == "6.6.2" and i["validation"] == "CLOSED")
    assert allowed == ["options.2.disable_prefix_caching", "options.2.enable_rag", "options.2.performance_profile",
                       "options.2.rag_num_docs"]


def test_kvcache_closed_with_program_features_is_refused_before_anything_runs(tmp_path, dirs):
    _require_engine_host()
    extravars = dict(base_vars(dirs, tmp_path), mlperf_division="closed", kvcache_enable_autoscaling=True,
                     kvcache_performance_profile="latency")
    result, out = run_playbook(tmp_path, extravars, "closedfeatures")
    assert_refused_up_front(result, out, dirs["results"],
                            "[kvcache_enable_autoscaling] CLOSED forbids --enable-autoscaling (rules 6.3.2.2)",
                            "[kvcache_performance_profile] CLOSED passes no program feature to the benchmark")
