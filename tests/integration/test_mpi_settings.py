# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bad MPI launch settings (mlperf_mpi_launcher, mlperf_mpi_oversubscribe, mlperf_mpi_allow_run_as_root,
mlperf_mpi_extra_args) stop the real playbooks before anything runs, all in one message, each with its fix.
The good ones are run for real by tests/integration/test_clients_group.py (mpiexec, extra args, a switch)."""
import pytest

from test_clients_group import assert_nothing_started, dirs, host, run, sizing, write_inventory  # noqa: F401

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("playbook", ["preflight.yml", "run_training.yml"])
def test_bad_mpi_settings_are_named_together_before_anything_runs(tmp_path, dirs, playbook):  # noqa: F811
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
