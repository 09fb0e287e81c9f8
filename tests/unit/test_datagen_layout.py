# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Data generation with its own process count (training_datagen_processes, upstream datagen --num-processes): the
datagen command and its metadata get that layout, the dataset the runs read stays the same, and a plan for data
generation alone does not count the runs already in the tree."""
import pytest

from ansible_collections.mlperf.storage.plugins.plugin_utils._run_record import run_metadata
from ansible_collections.mlperf.storage.plugins.plugin_utils._training_plan import plan_training
from test_training_plan import client, make_req


def test_by_default_datagen_uses_the_run_layout():
    plan = plan_training(make_req())
    assert plan["datagen_rank_layout"] == plan["rank_layout"]
    assert plan["commands"]["datagen"]["argv"][:5] == ["/opt/venv/bin/mpirun", "-n", "4", "-hosts", "node1:4"]
    assert plan["commands"]["datagen"]["num_processes"] == plan["commands"]["run"]["num_processes"] == 4


def test_datagen_processes_spread_over_the_clients_and_leave_the_dataset_alone():
    clients = [client("node1", mpi_host="10.0.0.1"), client("node2", mpi_host="10.0.0.2"),
               client("node3", mpi_host="10.0.0.3")]
    base = plan_training(make_req(clients=clients, accelerators_per_host=4, client_memory_gb=8))
    plan = plan_training(make_req(clients=clients, accelerators_per_host=4, client_memory_gb=8,
                                  datagen_processes=8))
    assert plan["errors"] == [], plan["errors"]
    # the run keeps its 12 ranks; data generation writes with 8 (3 + 3 + 2)
    assert plan["commands"]["run"]["argv"][:5] == base["commands"]["run"]["argv"][:5]
    assert plan["commands"]["run"]["argv"][:3] == ["/opt/venv/bin/mpirun", "-n", "12"]
    assert plan["datagen_rank_layout"]["hosts"] == [["10.0.0.1", 3], ["10.0.0.2", 3], ["10.0.0.3", 2]]
    assert plan["commands"]["datagen"]["argv"][:5] == ["/opt/venv/bin/mpirun", "-n", "8", "-hosts",
                                                        "10.0.0.1:3,10.0.0.2:3,10.0.0.3:2"]
    # the dataset is defined by its files and sizes, not by the rank count that writes it
    assert plan["dataset_manifest"] == base["dataset_manifest"]
    assert plan["num_files_train"] == base["num_files_train"]
    # the datagen leaf records the ranks that wrote it; the runs' metadata keeps theirs
    meta = run_metadata(plan, "datagen", "/r/datagen/ts", "ts")
    assert meta["num_processes"] == meta["args"]["num_processes"] == 8
    assert "-n 8" in meta["executed_command"]
    assert run_metadata(plan, "run", "/r/run/ts", "ts")["num_processes"] == 12


def test_fewer_datagen_processes_than_clients_use_the_first_clients():
    clients = [client("node1"), client("node2"), client("node3")]
    plan = plan_training(make_req(clients=clients, accelerators_per_host=4, client_memory_gb=8,
                                  datagen_processes=2))
    assert plan["datagen_rank_layout"]["hosts"] == [["node1", 1], ["node2", 1]]


def test_an_uneven_datagen_layout_is_refused_for_the_engine_that_hangs_on_it():
    from test_training_plan import ENGINES
    clients = [client("node1"), client("node2")]
    plan = plan_training(make_req(clients=clients, accelerators_per_host=2, client_memory_gb=8, allow_invalid=True,
                                  engine=dict(ENGINES["pypi-2.0.0"]), datagen_processes=3))
    errors = [e for e in plan["errors"] if e["variable"] == "training_datagen_processes"]
    assert len(errors) == 1 and "node1:2,node2:1" in errors[0]["message"], plan["errors"]


@pytest.mark.parametrize("value", [-1, "two", 1.5])
def test_a_bad_datagen_count_names_the_variable(value):
    plan = plan_training(make_req(datagen_processes=value))
    assert [e["variable"] for e in plan["errors"]] == ["training_datagen_processes"]
    assert "at least 1" in plan["errors"][0]["message"] and "0 for the run's own layout" in plan["errors"][0]["fix"]


def test_datagen_alone_does_not_count_the_runs_already_in_the_tree():
    earlier = [{"name": "20261201_100000", "complete": True}]
    assert [e["variable"] for e in plan_training(make_req(existing_runs=earlier))["errors"]] == ["mlperf_system"]
    plan = plan_training(make_req(existing_runs=earlier, datagen_only=True))
    assert plan["errors"] == []
    assert not any(i.get("parameter") == "existing_runs" for i in plan["classification"]["issues"])
