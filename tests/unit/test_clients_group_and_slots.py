# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The clients group by another name (mlperf_clients_group): the config check and the plans name it; per-host slots
(mlperf_accelerators_per_host as a host variable): the rank layout, the MPI host list and the total."""
from ansible_collections.mlperf.storage.plugins.filter.input_problems import input_problems
from ansible_collections.mlperf.storage.plugins.plugin_utils import _inputs
from ansible_collections.mlperf.storage.plugins.plugin_utils import _preflight
from ansible_collections.mlperf.storage.plugins.plugin_utils._checkpointing_plan import plan_checkpointing
from ansible_collections.mlperf.storage.plugins.plugin_utils._kvcache_plan import plan_kvcache
from ansible_collections.mlperf.storage.plugins.plugin_utils._plan_inputs import client_record
from ansible_collections.mlperf.storage.plugins.plugin_utils._training_plan import plan_training

from test_inputs import GOOD
from test_kvcache_plan import request as kvcache_request
from test_checkpointing_plan import request as checkpointing_request
from test_preflight_evaluate import report as preflight_report
from test_training_plan import ENGINES, client, make_req


def test_launcher_outside_a_group_of_another_name_names_that_group():
    found = _inputs.settings_problems([GOOD], ["node1", "node2"], "node9", "compute")
    assert [p["variable"] for p in found] == ["mlperf_launcher"]
    assert found[0]["message"].startswith("mlperf_launcher is 'node9', which is not in group 'compute' (node1, node2)")


def test_a_play_host_outside_the_named_group_is_a_problem_naming_the_variable():
    """A play given group 'clients' while the inventory names 'compute' (a playbook of one's own, or --limit)."""
    hosts = [dict(GOOD, host="node1"), dict(GOOD, host="login1", mlperf_mpi_host="10.0.0.9")]
    found = input_problems(hosts, ["node1", "node2"], "node1", "compute")
    assert [p["variable"] for p in found] == ["mlperf_clients_group"]
    assert found[0]["message"] == ("login1 is not in group 'compute', the group mlperf_clients_group names, but the "
                                   "play runs on it: a play chooses its hosts before inventory variables are read")
    assert found[0]["fix"] == ("pass the group as an extra var (-e mlperf_clients_group=compute), so that the plays "
                               "and the checks use the same group")


def test_the_default_group_is_clients():
    found = input_problems([GOOD], ["node2"], "node2")
    assert found[0]["message"].startswith("node1 is not in group 'clients'")


def test_a_plan_without_clients_names_the_group_it_was_given():
    plan = plan_training(make_req(clients=[], clients_group="gpu_nodes"))
    [error] = plan["errors"]
    assert error["message"] == "the inventory group 'gpu_nodes' has no hosts"
    assert error["fix"] == "put the hosts that run benchmark ranks in a group named 'gpu_nodes'"
    plan = plan_kvcache(kvcache_request(clients=[], clients_group="compute"))
    assert any(e["message"] == "the inventory group 'compute' has no hosts" for e in plan["errors"]), plan["errors"]


# --- per-host slots: mlperf_accelerators_per_host as a host variable (upstream --hosts host:slots) -------------------

def own(host, count, cores=2, memory_gib=8):
    return dict(client(host, memory_gib=memory_gib, cores=cores), accelerators_per_host=count)


def test_client_record_reads_the_hosts_own_count_and_none_without_one():
    facts = {"ansible_facts": {"memtotal_mb": 1024, "processor_nproc": 4}}
    assert client_record("n1", dict(facts, mlperf_accelerators_per_host=3))["accelerators_per_host"] == 3
    assert client_record("n1", dict(facts, mlperf_accelerators_per_host="5"))["accelerators_per_host"] == "5"
    assert client_record("n1", facts)["accelerators_per_host"] is None


def test_uneven_training_layout_is_the_host_list_and_the_sum():
    req = make_req(division="open", clients=[own("node1", 2), own("node2", 4), client("node3")],
                   accelerators_per_host=1, allow_invalid=True)
    plan = plan_training(req)
    assert plan["errors"] == [], plan["errors"]
    assert plan["rank_layout"]["hosts"] == [["node1", 2], ["node2", 4], ["node3", 1]]
    assert plan["rank_layout"]["np"] == plan["num_processes"] == 7
    argv = plan["commands"]["run"]["argv"]
    assert argv[:5] == ["/opt/venv/bin/mpirun", "-n", "7", "-hosts", "node1:2,node2:4,node3:1"]
    assert plan["commands"]["datagen"]["argv"][:5] == argv[:5]
    # what the verifier reads: the total, and the hosts it ran on
    meta = plan["metadata_base"]
    assert meta["num_processes"] == 7 and meta["args"]["num_accelerators"] == 7
    assert meta["args"]["hosts"] == ["node1", "node2", "node3"] and meta["args"]["num_client_hosts"] == 3
    # the dataset is sized for 7 accelerators, the same as an even 7-rank layout on one client
    even = plan_training(make_req(division="open", clients=[client("node1")], accelerators_per_host=7,
                                  allow_invalid=True))
    assert plan["datasize"]["required_files"] >= even["datasize"]["required_files"]


def test_uneven_layout_with_open_mpi_oversubscribes_only_for_the_host_that_needs_it():
    mpi = {"implementation": "openmpi", "mpirun": "/usr/bin/mpirun", "run_as_root": False, "extra_args": []}
    fits = plan_training(make_req(division="open", allow_invalid=True, mpi=mpi,
                                  clients=[own("node1", 2, cores=2), own("node2", 1, cores=2)]))
    assert fits["rank_layout"]["oversubscribe"] is False
    assert "-host" in fits["commands"]["run"]["argv"] and "node1:2,node2:1" in fits["commands"]["run"]["argv"]
    assert "--oversubscribe" not in fits["commands"]["run"]["argv"]
    over = plan_training(make_req(division="open", allow_invalid=True, mpi=mpi,
                                  clients=[own("node1", 4, cores=2), own("node2", 1, cores=2)]))
    assert over["rank_layout"]["oversubscribe"] is True and "--oversubscribe" in over["commands"]["run"]["argv"]


def test_a_bad_count_on_one_host_names_that_host():
    plan = plan_training(make_req(clients=[own("node1", 2), own("node2", 0), own("node3", "many")]))
    assert [(e["variable"], e["message"], e["fix"]) for e in plan["errors"]] == [
        ("mlperf_accelerators_per_host", "node2: mlperf_accelerators_per_host is 0; it must be a whole number of at "
                                         "least 1",
         "set mlperf_accelerators_per_host for node2 (a host variable) to a whole number of at least 1"),
        ("mlperf_accelerators_per_host", "node3: mlperf_accelerators_per_host is 'many'; it must be a whole number "
                                         "of at least 1",
         "set mlperf_accelerators_per_host for node3 (a host variable) to a whole number of at least 1"),
    ]


def test_too_many_ranks_for_one_hosts_cores_names_that_host():
    plan = plan_training(make_req(clients=[own("node1", 2, cores=2), own("node2", 17, cores=2)]))
    [error] = plan["errors"]
    assert error["message"].startswith("node2 has 2 core(s); mlperf_accelerators_per_host 17 puts 17 ranks on it")


def test_uneven_checkpointing_layout_counts_the_sum():
    fits = plan_checkpointing(checkpointing_request(division="open", clients=[own("c1", 6, cores=32, memory_gib=64),
                                                                              own("c2", 2, cores=32, memory_gib=64)]))
    assert fits["errors"] == [], fits["errors"]
    assert fits["num_processes"] == 8 and fits["rank_layout"]["hosts"] == [["c1", 6], ["c2", 2]]
    argv = fits["phases"][0]["commands"]["run"]["argv"]
    assert argv[:7] == ["/usr/bin/mpirun", "-np", "8", "-host", "c1:6,c2:2", "-x", "PATH"]
    wrong = plan_checkpointing(checkpointing_request(clients=[own("c1", 4, cores=32, memory_gib=64),
                                                              own("c2", 2, cores=32, memory_gib=64)]))
    [error] = wrong["errors"]
    assert error["variable"] == "mlperf_accelerators_per_host"
    assert ("the inventory gives 2 client(s) with their own mlperf_accelerators_per_host (c1:4+c2:2) = 6 processes"
            in error["message"])


def test_preflight_warns_per_host_with_the_hosts_own_count():
    reports = [dict(preflight_report("n1"), cores=4), dict(preflight_report("n2"), cores=4, accelerators_per_host="8")]
    problems = _preflight.evaluate(reports, launcher="n1", accelerators_per_host=2)
    cores = [(p["host"], p["message"]) for p in problems if p["check"] == "cores"]
    assert cores == [("n2", "8 simulated accelerators on 4 cores: ranks will share cores")]


def test_the_plan_action_reads_each_clients_own_count_and_the_launchers_mpi_settings_from_hostvars():
    """What the training role passes (one accelerators_per_host) and what hostvars hold, as the action reads them."""
    from ansible_collections.mlperf.storage.plugins.action.training_plan import ActionModule

    facts = {"memtotal_mb": 8192, "processor_nproc": 8}
    hostvars = {
        "node1": {"ansible_facts": dict(facts, user_id="root", mlperf_mpi={
            "implementation": "openmpi", "version": "4.1.4", "mpirun": "/usr/bin/mpirun"}),
            "mlperf_accelerators_per_host": "2", "mlperf_mpi_launcher": "mpiexec",
            "mlperf_mpi_extra_args": ["--bind-to", "none"], "mlperf_mpi_allow_run_as_root": False},
        "node2": {"ansible_facts": facts, "mlperf_accelerators_per_host": 5},
        "node3": {"ansible_facts": facts},
    }
    args = dict(make_req(), clients=["node1", "node2", "node3"], clients_group="compute", launcher="node1",
                division="open", allow_invalid=True, mpi_extra_args=["--mca", "btl", "tcp,self"],
                accelerators_per_host=1)
    for key in ("engine", "mpi"):
        args.pop(key)
    action = object.__new__(ActionModule)
    req = action.request(dict(args), hostvars)
    req["engine"] = make_req()["engine"]  # the launcher's lock header is not part of this test
    plan = plan_training(req)
    assert plan["errors"] == [], plan["errors"]
    assert plan["rank_layout"]["hosts"] == [["node1", 2], ["node2", 5], ["node3", 1]] and plan["num_processes"] == 8
    argv = plan["commands"]["run"]["argv"]
    assert argv[:6] == ["/usr/bin/mpiexec", "-np", "8", "-host", "node1:2,node2:5,node3:1", "-x"]
    assert "--allow-run-as-root" not in argv
    at = argv.index("--bind-to")
    assert argv[at:at + 5] == ["--bind-to", "none", "--mca", "btl", "tcp,self"]


def test_uneven_layouts_are_refused_for_the_engine_that_hangs_on_them_and_warned_for_the_others():
    """DLIO 2.0.0 sizes per-host statistics from each rank's own host: ranks 'size // npernode' differ and one
    MPI Reduce waits for ever (seen on the test hosts with host:2,host:1)."""
    uneven = [own("node1", 2), own("node2", 1)]
    plan = plan_training(make_req(division="open", allow_invalid=True, clients=uneven,
                                  engine=dict(ENGINES["pypi-2.0.0"])))
    [error] = [e for e in plan["errors"] if e["variable"] == "mlperf_accelerators_per_host"]
    assert error["message"].startswith("the clients have different rank counts (node1:2,node2:1), but the engine of "
                                       "the launcher's environment (DLIO generation pypi-2.0.0)")
    assert error["fix"] == "give every client the same mlperf_accelerators_per_host (remove the host variables that differ)"
    plan = plan_training(make_req(division="open", allow_invalid=True, clients=uneven))
    assert plan["errors"] == []
    assert any(w.startswith("uneven ranks per host (node1:2,node2:1): engine generation mlperf-v3.0")
               for w in plan["warnings"])
    even = plan_training(make_req(division="open", allow_invalid=True, clients=[own("node1", 2), own("node2", 2)],
                                  engine=dict(ENGINES["pypi-2.0.0"])))
    assert not any("different rank counts" in e["message"] for e in even["errors"])
