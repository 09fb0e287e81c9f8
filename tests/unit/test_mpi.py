# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""MPI detection from real ``mpirun --version`` outputs and the per-implementation command builder."""
import os

import pytest

from ansible_collections.mlperf.storage.plugins.module_utils._mpi import (
    build_mpi_command,
    detect_mpi,
    hostfile_text,
    launcher_env,
    rank_layout,
)

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures", "mpi")


def fixture_text(name):
    with open(os.path.join(FIXTURES, name)) as handle:
        return handle.read()


# --- detect_mpi -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fixture, implementation, version",
    [
        ("openmpi-4.1.4-debian12.txt", "openmpi", "4.1.4"),
        ("openmpi-4.1.4-debian12-openrte.txt", "openmpi", "4.1.4"),
        ("openmpi-5.0.11-pypi.txt", "openmpi", "5.0.11"),
        ("mpich-5.0.2-pypi-hydra.txt", "mpich", "5.0.2"),
        ("mpich-5.0.2-pypi-mpichversion.txt", "mpich", "5.0.2"),
        ("intelmpi-2021.18.1-pypi.txt", "intelmpi", "2021.18.1"),
    ],
)
def test_detect_mpi_on_captured_outputs(fixture, implementation, version):
    assert detect_mpi(fixture_text(fixture)) == {"implementation": implementation, "version": version}


def test_detect_mpi_intel_update_style_version():
    text = "Intel(R) MPI Library for Linux* OS, Version 2019 Update 9 Build 20200923 (id: abd58e492)\n"
    assert detect_mpi(text) == {"implementation": "intelmpi", "version": "2019 Update 9"}


@pytest.mark.parametrize(
    "text",
    ["", "bash: mpirun: command not found\n", "prterun (PRRTE) 3.0.0\n", None],
)
def test_detect_mpi_unknown(text):
    assert detect_mpi(text) == {"implementation": "unknown", "version": ""}


def test_detect_mpi_ignores_noise_around_version():
    text = "Warning: something on stderr\n" + fixture_text("openmpi-5.0.11-pypi.txt")
    assert detect_mpi(text)["version"] == "5.0.11"


# --- build_mpi_command: Open MPI --------------------------------------------------------------


def test_openmpi_single_host_non_root():
    assert build_mpi_command("openmpi", [("node1", 4)], 4, ["dlio_benchmark", "workload=unet3d"]) == [
        "mpirun", "-np", "4", "-host", "node1:4", "-x", "MLPERF_STORAGE_RUN_ID", "dlio_benchmark", "workload=unet3d",
    ]


def test_openmpi_many_hosts_as_root_with_env_and_extra_args():
    command = build_mpi_command(
        "openmpi",
        [("node1", 2), ("node2", 2), ("node3", 2)],
        6,
        ["python", "-c", "pass"],
        mpirun="/opt/env/bin/mpirun",
        env={"PYTHONPATH": "/opt/x", "DLIO_PROFILER_ENABLE": 0},
        run_as_root=True,
        extra_args=["--mca", "btl", "tcp,self"],
    )
    assert command == [
        "/opt/env/bin/mpirun", "--allow-run-as-root", "-np", "6", "-host", "node1:2,node2:2,node3:2",
        "-x", "DLIO_PROFILER_ENABLE", "-x", "PYTHONPATH", "-x", "MLPERF_STORAGE_RUN_ID",
        "--mca", "btl", "tcp,self", "python", "-c", "pass",
    ]
    # -x forwards names only: the values must come from the launcher's environment
    assert launcher_env("openmpi", {"PYTHONPATH": "/opt/x", "DLIO_PROFILER_ENABLE": 0}) == {
        "PYTHONPATH": "/opt/x", "DLIO_PROFILER_ENABLE": "0",
    }


def test_openmpi_hostfile_and_oversubscribe():
    hosts = [("node1", 1), ("node2", 1)]
    command = build_mpi_command("openmpi", hosts, 4, ["hostname"], oversubscribe=True, hostfile="/tmp/hf")
    assert command == ["mpirun", "--oversubscribe", "-np", "4", "--hostfile", "/tmp/hf", "-x", "MLPERF_STORAGE_RUN_ID",
                       "hostname"]
    assert hostfile_text("openmpi", hosts) == "node1 slots=1\nnode2 slots=1\n"


# --- build_mpi_command: MPICH hydra -----------------------------------------------------------


def test_mpich_single_host_root_needs_no_flag():
    assert build_mpi_command("mpich", [("10.231.7.1", 2)], 2, ["hostname"], run_as_root=True) == [
        "mpirun", "-n", "2", "-hosts", "10.231.7.1:2", "hostname",
    ]


def test_mpich_many_hosts_with_env_values_on_the_command_line():
    command = build_mpi_command(
        "mpich", [("node1", 2), ("node2", 1)], 3, ["hostname"], env={"B": "two words", "A": 1}
    )
    assert command == [
        "mpirun", "-n", "3", "-hosts", "node1:2,node2:1", "-genv", "A", "1", "-genv", "B", "two words",
        "hostname",
    ]
    assert launcher_env("mpich", {"A": 1}) == {}


def test_mpich_hostfile():
    hosts = [("node1", 2), ("node2", 3)]
    assert build_mpi_command("mpich", hosts, 5, ["hostname"], hostfile="/tmp/hf") == [
        "mpirun", "-n", "5", "-f", "/tmp/hf", "hostname",
    ]
    assert hostfile_text("mpich", hosts) == "node1:2\nnode2:3\n"


def test_mpich_oversubscribe_adds_no_flag_but_allows_more_ranks():
    assert build_mpi_command("mpich", [("node1", 1)], 3, ["hostname"], oversubscribe=True) == [
        "mpirun", "-n", "3", "-hosts", "node1:1", "hostname",
    ]


# --- build_mpi_command: Intel MPI -------------------------------------------------------------


def test_intelmpi_uses_bare_hosts_and_ppn():
    command = build_mpi_command("intelmpi", [("node1", 2), ("node2", 2)], 4, ["hostname"],
                                env={"I_MPI_DEBUG": "5"}, run_as_root=True)
    assert command == [
        "mpirun", "-n", "4", "-hosts", "node1,node2", "-ppn", "2", "-genv", "I_MPI_DEBUG", "5", "hostname",
    ]


def test_intelmpi_uneven_slots_are_one_argument_set_per_host_or_a_machinefile():
    hosts = [("node1", 2), ("node2", 1)]
    assert build_mpi_command("intelmpi", hosts, 3, ["dlio", "x=1"], mpirun="/opt/impi/bin/mpiexec",
                             env={"PATH": "/v/bin"}, extra_args=["-l"]) == [
        "/opt/impi/bin/mpiexec", "-genv", "PATH", "/v/bin", "-l",
        "-n", "2", "-host", "node1", "dlio", "x=1", ":", "-n", "1", "-host", "node2", "dlio", "x=1",
    ]
    with pytest.raises(ValueError, match="uneven slot counts.*one rank per slot \\(3\\), not np=4"):
        build_mpi_command("intelmpi", hosts, 4, ["hostname"], oversubscribe=True)
    assert build_mpi_command("intelmpi", hosts, 3, ["hostname"], hostfile="/tmp/mf") == [
        "mpirun", "-n", "3", "-machinefile", "/tmp/mf", "hostname",
    ]
    assert hostfile_text("intelmpi", hosts) == "node1:2\nnode2:1\n"


# --- validation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(implementation="mvapich"), "'mvapich' is not supported: expected one of openmpi, mpich, intelmpi"),
        (dict(hosts=[]), "hosts must be a non-empty list"),
        (dict(hosts="node1:2"), "hosts must be a non-empty list"),
        (dict(hosts=[("node1",)]), r"hosts\[0\] must be a \(host, slots\) pair"),
        (dict(hosts=[("node1", 0)]), r"hosts\[0\] \(node1\): slots must be a whole number greater than 0, got 0"),
        (dict(hosts=[("node1", "2")]), r"slots must be a whole number greater than 0, got '2'"),
        (dict(hosts=[("node1,node2", 2)]), "not usable in an MPI host list"),
        (dict(hosts=[("node1:2", 2)]), "not usable in an MPI host list"),
        (dict(hosts=[("node1", 2), ("node1", 2)]), r"hosts\[1\]: host 'node1' is listed twice"),
        (dict(np=0), r"np \(number of ranks\) must be a whole number greater than 0, got 0"),
        (dict(np=True), "got True"),
        (dict(np=5), "np=5 ranks exceed the 4 slots of the host list \\(node1:2,node2:2\\).*oversubscribe=true"),
        (dict(program="hostname"), "program must be a list of separate arguments"),
        (dict(program=[]), "program is empty"),
        (dict(extra_args="--mca btl tcp"), "extra_args must be a list of separate arguments"),
        (dict(env={"1BAD": "x"}), "'1BAD' is not a valid environment variable name"),
        (dict(env={"GOOD": None}), r"env\[GOOD\] must be a string or number"),
        (dict(env=["A=1"]), "env must be a mapping"),
        (dict(mpirun=""), "mpirun must be the launcher's name or path"),
    ],
)
def test_build_mpi_command_rejects_bad_input(kwargs, message):
    args = dict(implementation="openmpi", hosts=[("node1", 2), ("node2", 2)], np=4, program=["hostname"])
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        build_mpi_command(**args)


def test_oversubscribe_lifts_the_slot_limit_for_every_implementation():
    for implementation in ("openmpi", "mpich", "intelmpi"):
        command = build_mpi_command(implementation, [("node1", 1)], 2, ["hostname"], oversubscribe=True)
        count_flag = "-np" if implementation == "openmpi" else "-n"
        assert command[command.index(count_flag) + 1] == "2"
        assert ("--oversubscribe" in command) == (implementation == "openmpi")
        with pytest.raises(ValueError, match="exceed the 1 slots"):
            build_mpi_command(implementation, [("node1", 1)], 2, ["hostname"])


# --- rank_layout ------------------------------------------------------------------------------


def test_rank_layout_uniform():
    assert rank_layout(["node1", "node2", "node3"], 2) == ([("node1", 2), ("node2", 2), ("node3", 2)], 6)


def test_rank_layout_per_host_counts_keep_host_order():
    layout, np = rank_layout(["b", "a"], {"a": 1, "b": 3, "unused": 9})
    assert layout == [("b", 3), ("a", 1)]
    assert np == 4


def test_rank_layout_feeds_the_builder():
    layout, np = rank_layout(["node1", "node2"], 4)
    assert build_mpi_command("mpich", layout, np, ["hostname"])[:5] == ["mpirun", "-n", "8", "-hosts", "node1:4,node2:4"]


@pytest.mark.parametrize(
    "hosts, accelerators, message",
    [
        ([], 1, "hosts must be a non-empty list of host names"),
        ("node1", 1, "hosts must be a non-empty list of host names"),
        (["node1"], 0, "accelerators_per_host for 'node1' must be a whole number greater than 0"),
        (["node1", "node2"], {"node1": 1}, "has no count for 'node2'"),
        (["node1", "node1"], 1, "listed twice"),
    ],
)
def test_rank_layout_rejects_bad_input(hosts, accelerators, message):
    with pytest.raises(ValueError, match=message):
        rank_layout(hosts, accelerators)


def test_hostfile_text_validates_like_the_builder():
    with pytest.raises(ValueError, match="slots must be a whole number"):
        hostfile_text("mpich", [("node1", -1)])
    with pytest.raises(ValueError, match="is not supported"):
        hostfile_text("lam", [("node1", 1)])
