# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The MPI launch settings (mlperf_mpi_launcher, mlperf_mpi_oversubscribe, mlperf_mpi_allow_run_as_root,
mlperf_mpi_extra_args) in real playbooks: bad values stop them before anything runs, all in one message, each with
its fix; good ones reach a real Open MPI run (checkpointing replay). MPICH with mpiexec and extra args is run by
tests/integration/test_clients_group.py."""
import json
import os

import pytest

from test_checkpointing_replay import _require_engine_host, base_vars, scratch_env
from test_checkpointing_replay import dirs as replay_dirs  # noqa: F401
from test_checkpointing_replay import run_playbook as run_checkpointing
from test_clients_group import assert_nothing_started, host, run, sizing, write_inventory  # noqa: F401

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("playbook", ["preflight.yml", "run_training.yml"])
def test_bad_mpi_settings_are_named_together_before_anything_runs(tmp_path, dirs, playbook):
    inventory = write_inventory(tmp_path, {"clients": {"localhost": host()}})
    settings = sizing(dirs, mlperf_mpi_launcher="srun", mlperf_mpi_oversubscribe="maybe",
                      mlperf_mpi_allow_run_as_root="sometimes", mlperf_mpi_extra_args="--bind-to none")
    rc, out = run(tmp_path, playbook, inventory, settings, "bad-mpi")
    assert_nothing_started(
        rc, out, dirs, "The settings have 4 problem(s); nothing was started:",
        "[mlperf_mpi_launcher] mlperf_mpi_launcher is 'srun'; allowed values are mpirun, mpiexec",
        "fix: set mlperf_mpi_launcher to mpirun (the default) or mpiexec",
        "[mlperf_mpi_oversubscribe] mlperf_mpi_oversubscribe is 'maybe'; it must be auto, true or false",
        "[mlperf_mpi_allow_run_as_root] mlperf_mpi_allow_run_as_root is 'sometimes'; it must be auto, true or false",
        "[mlperf_mpi_extra_args] mlperf_mpi_extra_args is '--bind-to none'; it must be a list of separate arguments",
        "fix: write it as a list, e.g. mlperf_mpi_extra_args: ['--mca', 'btl', 'tcp,self']")


def test_switches_launcher_and_extra_args_reach_a_real_open_mpi_run(tmp_path, replay_dirs):
    """The checkpointing replay (the real Open MPI of the machine starting 8 ranks of the DLIO stand-in, see
    test_checkpointing_replay.py) with mpiexec, oversubscription switched off (8 slots are declared, so Open MPI
    needs no flag), run-as-root left to auto and an extra argument for every benchmark."""
    _require_engine_host()
    extravars = dict(base_vars(replay_dirs), **scratch_env(tmp_path, "replay-dlio-mlperf.txt"))
    extravars.update(mlperf_mpi_launcher="mpiexec", mlperf_mpi_oversubscribe=False,
                     mlperf_mpi_extra_args=["--bind-to", "none"])
    result, out = run_checkpointing(tmp_path, extravars, "openmpi-switches")
    assert "Traceback" not in out
    model_dir = replay_dirs["results"] / "closed" / "replay" / "results" / "localhost" / "checkpointing" / "llama3-8b"
    [leaf] = [p for p in model_dir.iterdir() if p.is_dir()]
    meta = json.loads((leaf / ("checkpointing_%s_metadata.json" % leaf.name)).read_text())
    assert meta["exit_status"] == 0, out[-3000:]
    argv = meta["executed_argv"]
    assert argv[0] == "/usr/bin/mpiexec" and "--oversubscribe" not in argv
    assert ("--allow-run-as-root" in argv) is (os.geteuid() == 0)  # auto: as the launcher's user decides
    at = argv.index("--bind-to")
    assert argv[at:at + 2] == ["--bind-to", "none"] and argv.index("-np") < at < argv.index(argv[-1])
