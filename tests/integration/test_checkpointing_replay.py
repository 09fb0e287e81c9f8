# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Checkpointing through the whole collection path, with a recorded engine output (the MLPerf DLIO is not installable
here; see tests/standins/README.md and docs/checkpointing.md).

playbooks/run_checkpointing.yml runs on localhost the way AWX runs it (ansible-runner): preflight against a scratch
environment, the plan, the real Open MPI launching 8 ranks of the DLIO stand-in with the exact command the plan
built, run_phase (run directory, telemetry, metadata, checksums), collection and verification. The stand-in checks
the command line and writes a published run of ../shared/corpus; what is asserted is what the collection made of it.
"""
import json
import os
import shutil
import sys
from datetime import datetime

import pytest

from _faultkit import assert_refused_up_front, standin_venv
from _testpaths import CORPUS, REPO
from harness.plays import artifact_data, run_project_playbook

ansible_runner = pytest.importorskip("ansible_runner")

pytestmark = pytest.mark.integration

STANDINS = os.path.join(REPO, "tests", "standins")
WRITE_RUN = os.path.join(CORPUS, "closed", "NewFW", "results", "Solidigm_D7-PS1010_7TB_Gen5_NVMe_TLC", "checkpointing",
                         "llama3-8b", "20260713_162640")


def _require_engine_host():
    if not os.path.isdir(CORPUS):
        pytest.skip("the published results corpus (%s) is absent: nothing to replay" % CORPUS)
    if not shutil.which("mpirun") or not os.path.exists("/usr/bin/mpirun"):
        pytest.skip("Open MPI (Debian openmpi-bin, /usr/bin/mpirun) is not installed")


def scratch_env(base, lock):
    """A venv holding only the stand-in's record (what the replay lock pins) and, in bin/, its launcher."""
    env = standin_venv(base / "env")
    launcher = env / "bin" / "dlio_benchmark"
    launcher.write_text("#!/bin/sh\nMLPERF_REPLAY_CORPUS='%s' exec '%s' '%s' \"$@\"\n"
                        % (CORPUS, sys.executable, os.path.join(STANDINS, "dlio_benchmark.py")))
    launcher.chmod(0o755)
    return {"python_env_dir": str(env), "python_env_lock_file": os.path.join(STANDINS, "locks", lock)}


def run_playbook(tmp_path, extravars, name):
    return run_project_playbook(tmp_path, "playbooks/run_checkpointing.yml", extravars, name)


@pytest.fixture
def dirs(tmp_path):
    out = {name: tmp_path / name for name in ("results", "work")}
    for path in out.values():
        path.mkdir()
    # checkpoints on another filesystem than the results, as the rules require (tmpfs when there is one)
    shm = "/dev/shm"
    if os.path.isdir(shm) and os.access(shm, os.W_OK):
        out["data"] = shm + "/mlperf-ckpt-replay-%d" % os.getpid()
        os.makedirs(out["data"], exist_ok=True)
    else:
        out["data"] = str(tmp_path / "data")
        os.makedirs(out["data"])
    yield out
    shutil.rmtree(out["data"], ignore_errors=True)


def replayed_leaves(dirs):
    """The llama3-8b run directories the play made in the results tree, oldest first."""
    model_dir = dirs["results"] / "closed" / "replay" / "results" / "localhost" / "checkpointing" / "llama3-8b"
    return sorted(p for p in model_dir.iterdir() if p.is_dir())


def metadata_path(leaf):
    return leaf / ("checkpointing_%s_metadata.json" % leaf.name)


def base_vars(dirs):
    return {
        "mlperf_results_dir": str(dirs["results"]), "mlperf_data_dir": dirs["data"],
        "mlperf_work_dir": str(dirs["work"]), "mlperf_division": "closed", "mlperf_org": "replay",
        "mlperf_allow_invalid": False, "mlperf_model": "llama3-8b", "mlperf_accelerator": "b200",
        "mlperf_accelerators_per_host": 8, "mlperf_params": {}, "mpi_source": "os", "mpi_implementation": "openmpi",
        "checkpointing_progress_interval": 2,
    }


def test_split_checkpointing_replayed_through_the_collection(tmp_path, dirs):
    _require_engine_host()
    extravars = dict(base_vars(dirs), checkpointing_split=True, mlperf_drop_caches=True,
                     **scratch_env(tmp_path, "replay-dlio-mlperf.txt"))
    result, out = run_playbook(tmp_path, extravars, "split")
    same_fs = os.stat(dirs["data"]).st_dev == os.stat(str(dirs["results"])).st_dev
    assert "Traceback" not in out
    leaves = replayed_leaves(dirs)
    # no command level: checkpointing/<model>/<ts>/, one leaf per invocation, write first
    assert len(leaves) == 2, out[-3000:]
    metas = [json.loads(metadata_path(leaf).read_text()) for leaf in leaves]
    assert [m["phase"] for m in metas] == ["write", "read"]
    assert [(m["args"]["num_checkpoints_write"], m["args"]["num_checkpoints_read"]) for m in metas] == [(10, 0), (0, 10)]
    for leaf, meta in zip(leaves, metas):
        assert meta["benchmark_type"] == "checkpointing" and meta["command"] == "run" and meta["model"] == "llama3-8b"
        assert meta["num_processes"] == 8 and meta["accelerator"] == "b200" and meta["exit_status"] == 0
        assert meta["engine"]["generation"] == "mlperf-v3.0" and meta["verification"] == "CLOSED"
        assert meta["parameters"]["checkpoint"]["fsync"] is True
        assert meta["parameters"]["checkpoint"]["checkpoint_folder"] == dirs["data"] + "/checkpoints/llama3-8b"
        # the exact command the plan built went through mpirun to the 8 ranks
        argv = meta["executed_argv"]
        assert argv[0] == "/usr/bin/mpirun" and argv[argv.index("-np") + 1] == "8"
        assert "workload=llama3_8b" in argv and "++hydra.run.dir='%s'" % leaf in argv
        assert "++workload.checkpoint.num_checkpoints_write=%d" % meta["args"]["num_checkpoints_write"] in argv
        # the engine's files, per rank, plus what hydra records from the real arguments
        assert sorted(p.name for p in leaf.glob("*_per_epoch_stats.json")) == ["%d_per_epoch_stats.json" % r
                                                                              for r in range(8)]
        overrides = (leaf / "dlio_config" / "overrides.yaml").read_text()
        assert "++workload.checkpoint.checkpoint_folder=%s/checkpoints/llama3-8b" % dirs["data"] in overrides
        for name in ("checkpointing_run.stdout.log", "checkpointing_run.stderr.log", "dlio.log", "CHECKSUMS.sha256",
                     "fs_separation.json", "summary.json"):
            assert (leaf / name).exists(), name
        assert json.loads((leaf / "fs_separation.json").read_text())["same_filesystem"] is same_fs
        assert meta["cache_drops"] and meta["cache_drops"][0]["ok"]
    write_summary = json.loads((leaves[0] / "summary.json").read_text())
    recorded = json.loads(open(os.path.join(WRITE_RUN, "summary.json")).read())
    assert write_summary["metric"] == recorded["metric"]
    # one telemetry window spans both invocations; it lands in the read invocation's run directory
    read_ts = leaves[1].name
    index = json.loads((leaves[1] / ("checkpointing_%s_timeseries.json" % read_ts)).read_text())
    assert index["hosts"]["localhost"]["file"] and (leaves[1] / "telemetry").is_dir()
    # the read phase started within the 30 s the rules allow after the write phase ended
    gap = (datetime.fromisoformat(metas[1]["invocation_start_time"])
           - datetime.fromisoformat(metas[0]["invocation_end_time"])).total_seconds()
    assert 0 <= gap <= 30, gap

    verdict = artifact_data(result)["mlperf_verdict"]
    if same_fs:
        assert verdict == "INVALID" and result.rc != 0
        assert "same filesystem" in out
    else:
        assert result.rc == 0, out[-4000:]
        assert verdict == "CLOSED", out[-3000:]


def test_checkpointing_refused_for_the_pypi_engine_before_anything_runs(tmp_path, dirs):
    _require_engine_host()
    extravars = dict(base_vars(dirs), **scratch_env(tmp_path, "replay-dlio-pypi.txt"))
    result, out = run_playbook(tmp_path, extravars, "pypi")
    # nothing ran: no results tree, no checkpoint written, no engine started
    assert_refused_up_front(result, out, dirs["results"], "cannot run the llama3-8b checkpointing workload",
                            "mlperf_env_profile: submission")
    assert not os.path.exists(dirs["data"] + "/checkpoints")


def test_checkpointing_wrong_process_count_for_closed(tmp_path, dirs):
    _require_engine_host()
    extravars = dict(base_vars(dirs), mlperf_accelerators_per_host=6, **scratch_env(tmp_path, "replay-dlio-mlperf.txt"))
    result, out = run_playbook(tmp_path, extravars, "np")
    assert_refused_up_front(result, out, dirs["results"], "llama3-8b in CLOSED needs exactly 8 processes",
                            "mlperf_accelerators_per_host: 8")


def test_combined_checkpointing_replayed_through_the_collection(tmp_path, dirs):
    """The default: one invocation of 10 writes then 10 reads, with run_phase's own telemetry."""
    _require_engine_host()
    extravars = dict(base_vars(dirs), **scratch_env(tmp_path, "replay-dlio-mlperf.txt"))
    result, out = run_playbook(tmp_path, extravars, "combined")
    assert "Traceback" not in out
    leaves = replayed_leaves(dirs)
    assert len(leaves) == 1, out[-3000:]
    leaf = leaves[0]
    meta = json.loads(metadata_path(leaf).read_text())
    assert meta["phase"] == "run" and meta["exit_status"] == 0
    assert (meta["args"]["num_checkpoints_write"], meta["args"]["num_checkpoints_read"]) == (10, 10)
    assert "++workload.checkpoint.num_checkpoints_read=10" in meta["executed_argv"]
    metric = json.loads((leaf / "summary.json").read_text())["metric"]
    assert metric["save_checkpoint_io_mean_GB_per_second"] > 0 and metric["load_checkpoint_io_mean_GB_per_second"] > 0
    assert meta["timeseries_data"]["hosts_collected"] == ["localhost"]
    assert (leaf / ("checkpointing_%s_timeseries.json" % leaf.name)).exists()
    same_fs = os.stat(dirs["data"]).st_dev == os.stat(str(dirs["results"])).st_dev
    verdict = artifact_data(result)["mlperf_verdict"]
    assert verdict == ("INVALID" if same_fs else "CLOSED"), out[-3000:]
    assert (result.rc == 0) is (not same_fs)
