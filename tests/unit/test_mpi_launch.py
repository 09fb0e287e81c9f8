# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The MPI launch as the user chooses it (upstream --mpi-bin, --oversubscribe, --allow-run-as-root, --mpi-params):
mlperf_mpi_launcher, mlperf_mpi_oversubscribe, mlperf_mpi_allow_run_as_root and mlperf_mpi_extra_args, read by
the plan actions from the launcher's host variables, in the argv of every MPI benchmark and every implementation
(Open MPI, MPICH, Intel MPI); bad values are named before anything runs."""
import pytest

from ansible_collections.mlperf.storage.plugins.plugin_utils import _inputs
from ansible_collections.mlperf.storage.plugins.plugin_utils._checkpointing_plan import plan_checkpointing
from ansible_collections.mlperf.storage.plugins.plugin_utils._kvcache_plan import plan_kvcache
from ansible_collections.mlperf.storage.plugins.plugin_utils._plan_inputs import launcher_mpi
from ansible_collections.mlperf.storage.plugins.plugin_utils._training_plan import plan_training

from test_checkpointing_plan import request as checkpointing_request
from test_inputs import GOOD
from test_kvcache_plan import request as kvcache_request
from test_training_plan import client, make_req


def mpi(implementation="openmpi", mpirun="/usr/bin/mpirun", root=False, extra=(), **settings):
    return {"implementation": implementation, "version": "x", "mpirun": mpirun, "run_as_root": root,
            "extra_args": list(extra), "settings": settings}


def training_argv(clients=None, **mpi_kwargs):
    plan = plan_training(make_req(division="open", allow_invalid=True, mpi=mpi(**mpi_kwargs),
                                  clients=clients or [client("node1", cores=8), client("node2", cores=8)]))
    assert plan["errors"] == [], plan["errors"]
    return plan["commands"]["run"]["argv"], plan


def test_launcher_mpi_reads_the_launchers_settings_and_leaves_out_those_it_has_not():
    hostvars = {"ansible_facts": {"user_id": "root", "mlperf_mpi": {"implementation": "openmpi", "version": "4.1.4",
                                                                    "mpirun": "/usr/bin/mpiexec"}},
                "mlperf_mpi_launcher": "mpiexec", "mlperf_mpi_oversubscribe": False,
                "mlperf_mpi_extra_args": ["--bind-to", "none"]}
    got = launcher_mpi(hostvars, ["--mca", "btl", "tcp,self"])
    assert got == {"implementation": "openmpi", "version": "4.1.4", "mpirun": "/usr/bin/mpiexec", "run_as_root": True,
                   "extra_args": ["--mca", "btl", "tcp,self"],
                   "settings": {"mlperf_mpi_launcher": "mpiexec", "mlperf_mpi_oversubscribe": False,
                                "mlperf_mpi_extra_args": ["--bind-to", "none"]}}
    assert launcher_mpi({})["settings"] == {}


def test_defaults_are_what_was_decided_before():
    """auto: --allow-run-as-root when the launcher runs as root, --oversubscribe when a client needs it."""
    argv, _ = training_argv(root=True, clients=[client("node1", cores=8)])
    assert argv[:4] == ["/usr/bin/mpirun", "--allow-run-as-root", "-np", "4"]
    argv, _ = training_argv(root=False, clients=[client("node1", cores=2)])
    assert argv[:4] == ["/usr/bin/mpirun", "--oversubscribe", "-np", "4"]


@pytest.mark.parametrize("implementation, fact, expected", [
    ("openmpi", "/usr/bin/mpirun", "/usr/bin/mpiexec"),
    ("mpich", "/opt/venv/bin/mpiexec", "/opt/venv/bin/mpiexec"),
    ("intelmpi", "/opt/intel/oneapi/mpi/latest/bin/mpirun", "/opt/intel/oneapi/mpi/latest/bin/mpiexec"),
    ("mpich", None, "/opt/venv/bin/mpiexec"),  # no MPI fact: the environment's bin
])
def test_mpiexec_is_the_same_flags_from_the_same_bin(implementation, fact, expected):
    argv, _ = training_argv(implementation=implementation, mpirun=fact, mlperf_mpi_launcher="mpiexec")
    assert argv[0] == expected
    mpirun, _ = training_argv(implementation=implementation, mpirun=fact, mlperf_mpi_launcher="mpirun")
    assert argv[1:] == mpirun[1:] and mpirun[0] == expected[:-len("mpiexec")] + "mpirun"


def test_switches_force_the_open_mpi_flags_either_way():
    argv, _ = training_argv(root=False, mlperf_mpi_allow_run_as_root=True, mlperf_mpi_oversubscribe="yes")
    assert argv[1:3] == ["--allow-run-as-root", "--oversubscribe"]
    argv, plan = training_argv(root=True, clients=[client("node1", cores=2)], mlperf_mpi_allow_run_as_root="false",
                               mlperf_mpi_oversubscribe=False)
    assert "--allow-run-as-root" not in argv and "--oversubscribe" not in argv
    assert any("Open MPI refuses to start unless OMPI_ALLOW_RUN_AS_ROOT=1" in w for w in plan["warnings"])
    argv, _ = training_argv(root=True, mlperf_mpi_allow_run_as_root="auto", mlperf_mpi_oversubscribe="auto")
    assert argv[1] == "--allow-run-as-root" and "--oversubscribe" not in argv


def test_hydra_launchers_take_no_switch_flags():
    argv, _ = training_argv(implementation="mpich", root=True, mlperf_mpi_allow_run_as_root=True,
                            mlperf_mpi_oversubscribe=True)
    assert argv[:5] == ["/usr/bin/mpirun", "-n", "8", "-hosts", "node1:4,node2:4"]


def test_extra_args_for_every_benchmark_come_before_the_benchmarks_own():
    common = ["--bind-to", "none"]
    argv, _ = training_argv(extra=["--mca", "btl", "tcp,self"], mlperf_mpi_extra_args=common)
    program = argv.index("/opt/venv/bin/dlio_benchmark")
    assert argv[program - 5:program] == ["--bind-to", "none", "--mca", "btl", "tcp,self"]

    ckpt = plan_checkpointing(checkpointing_request(mpi=mpi(extra=["-v"], mlperf_mpi_extra_args=common)))
    assert ckpt["errors"] == [], ckpt["errors"]
    run = ckpt["phases"][0]["commands"]["run"]["argv"]
    assert run[run.index("--bind-to"):run.index("--bind-to") + 3] == ["--bind-to", "none", "-v"]

    kv = plan_kvcache(kvcache_request(mpi=mpi(mlperf_mpi_extra_args=common)))
    assert kv["errors"] == [], kv["errors"]
    steps = kv["runner_spec"]["steps"]
    assert len(steps) == 9
    for step in steps:
        at = step["argv"].index("--bind-to")
        assert step["argv"][at:at + 5] == ["--bind-to", "none", "--mca", "orte_abort_on_non_zero_status", "0"]


def test_intel_mpi_even_and_uneven_layouts():
    argv, _ = training_argv(implementation="intelmpi", mpirun="/opt/impi/bin/mpiexec", root=True,
                            mlperf_mpi_launcher="mpiexec")
    assert argv[:7] == ["/opt/impi/bin/mpiexec", "-n", "8", "-hosts", "node1,node2", "-ppn", "4"]
    assert "--allow-run-as-root" not in argv
    uneven = [dict(client("node1", cores=8), accelerators_per_host=3), dict(client("node2", cores=8),
                                                                            accelerators_per_host=1)]
    argv, plan = training_argv(implementation="intelmpi", mpirun="/opt/impi/bin/mpiexec", clients=uneven,
                               mlperf_mpi_extra_args=["-l"])
    assert plan["num_processes"] == 4
    program = plan["commands"]["run"]["argv"][argv.index("-host") + 2:argv.index(":")]
    assert argv[0] == "/opt/impi/bin/mpiexec" and argv.count("-genv") == 1 and argv[argv.index("-genv") + 3] == "-l"
    assert argv[argv.index("-l") + 1:argv.index("-l") + 5] == ["-n", "3", "-host", "node1"]
    assert argv[argv.index(":"):argv.index(":") + 5] == [":", "-n", "1", "-host", "node2"]
    assert argv[-len(program):] == program and program[0] == "/opt/venv/bin/dlio_benchmark"


BAD = [
    ("mlperf_mpi_launcher", "srun", "mlperf_mpi_launcher",
     "mlperf_mpi_launcher is 'srun'; allowed values are mpirun, mpiexec (both come with the MPI the mpi role "
     "provides)", "set mlperf_mpi_launcher to mpirun (the default) or mpiexec"),
    ("mlperf_mpi_oversubscribe", "sometimes", "mlperf_mpi_oversubscribe",
     "mlperf_mpi_oversubscribe is 'sometimes'; it must be auto, true or false (--oversubscribe (Open MPI): auto = "
     "when a client gets more ranks than cores)", "set mlperf_mpi_oversubscribe to auto (the default), true or false"),
    ("mlperf_mpi_allow_run_as_root", 2, "mlperf_mpi_allow_run_as_root",
     "mlperf_mpi_allow_run_as_root is 2; it must be auto, true or false (--allow-run-as-root (Open MPI): auto = when "
     "the launcher runs as root)", "set mlperf_mpi_allow_run_as_root to auto (the default), true or false"),
    ("mlperf_mpi_extra_args", "--bind-to none", "mlperf_mpi_extra_args",
     "mlperf_mpi_extra_args is '--bind-to none'; it must be a list of separate arguments (each word of the MPI "
     "command line its own item)", "write it as a list, e.g. mlperf_mpi_extra_args: ['--mca', 'btl', 'tcp,self']"),
    ("mlperf_mpi_extra_args", ["--bind-to", None], "mlperf_mpi_extra_args[1]",
     "mlperf_mpi_extra_args[1] is None; every argument must be a non-empty string",
     "write each argument as text, e.g. '--bind-to' then 'none'"),
]


@pytest.mark.parametrize("name, value, variable, message, fix", BAD, ids=[b[0] + "-" + str(b[1]) for b in BAD])
def test_bad_mpi_settings_are_named_by_the_config_check_and_by_every_plan(name, value, variable, message, fix):
    [found] = _inputs.settings_problems([dict(GOOD, **{name: value})], ["node1"], "node1")
    assert (found["host"], found["variable"], found["message"], found["fix"]) == (None, variable, message, fix)
    settings = {name: value}
    for plan in (plan_training(make_req(mpi=mpi(**settings))),
                 plan_checkpointing(checkpointing_request(mpi=mpi(**settings))),
                 plan_kvcache(kvcache_request(mpi=mpi(**settings)))):
        assert plan["errors"] == [{"variable": variable, "message": message, "fix": fix}], plan["errors"]


def test_good_mpi_settings_in_the_config_check():
    good = dict(GOOD, mlperf_mpi_launcher="mpiexec", mlperf_mpi_oversubscribe="auto",
                mlperf_mpi_allow_run_as_root="yes", mlperf_mpi_extra_args=["--bind-to", "none"])
    assert _inputs.settings_problems([good], ["node1"], "node1") == []
