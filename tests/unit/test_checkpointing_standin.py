# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The DLIO replay stand-in takes exactly the command the checkpointing plan builds and refuses anything else, so the
replay integration test proves the command, not just the plumbing."""
import os
import subprocess
import sys

import pytest
import yaml

from _testpaths import CORPUS, REPO

from ansible_collections.mlperf.storage.plugins.plugin_utils import _checkpointing_plan

STANDIN = os.path.join(REPO, "tests", "standins", "dlio_benchmark.py")
GIB = 1024 ** 3


def plan(split=False, **changes):
    req = {
        "edition": "3.0", "division": "closed", "model": "llama3-8b", "accelerator": "b200", "params": {},
        "clients": [{"host": "h", "mpi_host": "h", "memtotal_bytes": 64 * GIB, "cores": 8}], "launcher": "h",
        "accelerators_per_host": 8, "split": split, "checkpoint_folder": "/mnt/ckpt",
        "engine": {"generation": "mlperf-v3.0", "version": "3.0.2"},
        "mpi": {"implementation": "openmpi", "mpirun": "/usr/bin/mpirun", "run_as_root": True, "extra_args": []},
        "paths": {"results_dir": "/results", "work_dir": "/work", "venv_bin": "/venv/bin"},
        "org": "o", "system": "s", "allow_invalid": False,
    }
    req.update(changes)
    result = _checkpointing_plan.plan_checkpointing(req)
    assert result["errors"] == []
    return result


def program_args(the_plan, phase, run_dir, config_dir):
    """The DLIO part of the MPI command, with the run and config directories of this test."""
    argv = the_plan["phases"][phase]["commands"]["run"]["argv"]
    start = next(i for i, a in enumerate(argv) if a.endswith("/dlio_benchmark"))
    out = []
    for arg in argv[start + 1:]:
        arg = arg.replace("@RUN_DIR@", str(run_dir))
        if arg.startswith("--config-dir="):
            arg = "--config-dir=%s" % config_dir
        out.append(arg)
    return out


def run_standin(args, world_size=1, rank=0):
    env = dict(os.environ, MLPERF_REPLAY_CORPUS=CORPUS, OMPI_COMM_WORLD_RANK=str(rank),
               OMPI_COMM_WORLD_SIZE=str(world_size))
    return subprocess.run([sys.executable, STANDIN] + args, capture_output=True, text=True, env=env)


@pytest.fixture
def config_dir(tmp_path):
    the_plan = plan()
    path = tmp_path / "cfg" / "workload"
    path.mkdir(parents=True)
    (path / "llama3_8b.yaml").write_text(yaml.safe_dump(the_plan["workload"]))
    return tmp_path / "cfg"


def test_plan_command_is_accepted_and_replayed_per_rank(tmp_path, config_dir):
    if not os.path.isdir(CORPUS):
        pytest.skip("the published results corpus (%s) is absent" % CORPUS)
    the_plan = plan(split=True)
    run_dir = tmp_path / "run"
    args = program_args(the_plan, 0, run_dir, config_dir)
    for rank in (0, 3):
        proc = run_standin(args, world_size=8, rank=rank)
        assert proc.returncode == 0, proc.stderr
    assert (run_dir / "summary.json").exists() and (run_dir / "3_per_epoch_stats.json").exists()
    config = yaml.safe_load((run_dir / "dlio_config" / "config.yaml").read_text())["workload"]
    assert config["checkpoint"] == {"checkpoint_folder": "/mnt/ckpt/llama3-8b", "time_between_checkpoints": 5,
                                    "num_checkpoints_write": 10, "num_checkpoints_read": 0, "fsync": True}
    assert yaml.safe_load((run_dir / "dlio_config" / "overrides.yaml").read_text())[0] == "workload=llama3_8b"


@pytest.mark.parametrize("mutate,message", [
    (lambda a: a + ["++hydra.job.chdir=true"], "the last argument must be --config-dir"),
    (lambda a: a[:-1] + ["--bogus=1", a[-1]], "unrecognised argument '--bogus=1'"),
    (lambda a: [x for x in a if not x.startswith("++hydra.run.dir")], "++hydra.run.dir is missing"),
    (lambda a: a[:-1] + ["++workload.checkpoint.fsync=false", a[-1]], "checkpoint.fsync must be true"),
    (lambda a: a[:-1] + ["++workload.workflow.train=true", a[-1]], "not a checkpoint-only workflow"),
])
def test_anything_but_the_mlperf_grammar_is_refused(tmp_path, config_dir, mutate, message):
    if not os.path.isdir(CORPUS):
        pytest.skip("the published results corpus (%s) is absent" % CORPUS)
    args = mutate(program_args(plan(), 0, tmp_path / "run", config_dir))
    proc = run_standin(args, world_size=8)
    assert proc.returncode == 2 and message in proc.stderr, proc.stderr


def test_rank_count_must_match_the_recording(tmp_path, config_dir):
    if not os.path.isdir(CORPUS):
        pytest.skip("the published results corpus (%s) is absent" % CORPUS)
    proc = run_standin(program_args(plan(), 0, tmp_path / "run", config_dir), world_size=4)
    assert proc.returncode == 3 and "the recording has 8 ranks, this job 4" in proc.stderr


@pytest.mark.parametrize("extra,message", [
    (["++workload.checkpoint.mode=subset", "++workload.model.parallelism.data=1"],
     "Comm size: 8 is larger than 3D parallelism size: 1"),
    (["++workload.model.parallelism.data=8"], "workload.parallelism.data should not be set in default Checkpoint Mode"),
    (["++workload.checkpoint.mode=subset"], "please set a target data parallelism"),
])
def test_the_engines_own_checkpoint_mode_validation_is_kept(tmp_path, config_dir, extra, message):
    """The MLPerf DLIO refuses these at start-up (utils/config.py validate()); so does the stand-in, so a plan that
    sends upstream's subset overrides to llama3-8b on 8 ranks (data 8/8 = 1) fails the replay as it would fail for
    real."""
    args = program_args(plan(), 0, tmp_path / "run", config_dir)
    proc = run_standin(args[:-1] + extra + args[-1:], world_size=8)
    assert proc.returncode == 2 and message in proc.stderr, proc.stderr


def test_a_subset_the_engine_accepts_is_replayed(tmp_path, config_dir):
    if not os.path.isdir(CORPUS):
        pytest.skip("the published results corpus (%s) is absent" % CORPUS)
    args = program_args(plan(), 0, tmp_path / "run", config_dir)
    proc = run_standin(args[:-1] + ["++workload.checkpoint.mode=subset", "++workload.model.parallelism.data=8"]
                       + args[-1:], world_size=8)
    assert proc.returncode == 0, proc.stderr
    assert "checkpoint mode subset" in (tmp_path / "run" / "dlio.log").read_text()
