# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every bad input gets its own clear error before anything runs (docs/bad-input.md: one row, one test here or in
tests/integration/test_bad_input.py)."""
import pytest

from ansible_collections.mlperf.storage.plugins.filter.input_problems import input_problems
from ansible_collections.mlperf.storage.plugins.plugin_utils import _inputs
from ansible_collections.mlperf.storage.plugins.plugin_utils._checkpointing_plan import plan_checkpointing
from ansible_collections.mlperf.storage.plugins.plugin_utils._kvcache_plan import plan_kvcache
from ansible_collections.mlperf.storage.plugins.plugin_utils._plan_core import plan_function
from ansible_collections.mlperf.storage.plugins.plugin_utils._training_plan import plan_training
from ansible_collections.mlperf.storage.plugins.plugin_utils._vectordb import plan_vectordb

from test_training_plan import client, make_req

GOOD = {
    "host": "node1", "mlperf_mpi_host": "", "mlperf_edition": "3.0", "mlperf_division": "closed",
    "mlperf_org": "acme", "mlperf_system": "sys-1", "mlperf_accelerators_per_host": 8, "mlperf_runs": 0,
    "mlperf_run_timeout": 21600, "mlperf_client_memory_gb": 0, "mlperf_allow_invalid": False,
    "mlperf_drop_caches": "yes", "mlperf_create_dirs": "false", "mlperf_data_dir": "/mnt/data",
    "mlperf_results_dir": "/shared/results", "mlperf_work_dir": "/var/tmp/work",
    "mlperf_controller_results_dir": "/shared/results", "mlperf_params": {"reader.read_threads": 8},
    "training_progress_interval": 15, "checkpointing_progress_interval": None, "kvcache_progress_interval": None,
    "vectordb_progress_interval": None, "run_phase_heartbeat_timeout": 180,
}


def problems(**changes):
    return _inputs.settings_problems([dict(GOOD, **changes)], ["node1"], "node1")


def only(found):
    assert len(found) == 1, found
    return found[0]


def test_good_settings_have_no_problem():
    assert problems() == []


def test_ansible_boolean_words_and_digit_strings_are_accepted():
    # what -e key=value gives: every value a string
    assert problems(mlperf_allow_invalid="TRUE", mlperf_drop_caches="off", mlperf_accelerators_per_host="4",
                    mlperf_runs="6", mlperf_client_memory_gb="7.5", mlperf_edition=3.0) == []


# --- one row of docs/bad-input.md each ------------------------------------------------------------------------

@pytest.mark.parametrize("changes, variable, message, fix", [
    (dict(mlperf_params={"reader.read_threads": "${oc.env:T}"}), "mlperf_params['reader.read_threads']",
     "mlperf_params['reader.read_threads'] is '${oc.env:T}', which contains '${': the engine's configuration system "
     "(hydra) would read it as an interpolation, not as text",
     "write the value without '${', or remove reader.read_threads from mlperf_params"),
    (dict(mlperf_params={"storage.storage_options": {"prefix": ["a", "${x}"]}}),
     "mlperf_params['storage.storage_options']",
     "mlperf_params['storage.storage_options'] is {'prefix': ['a', '${x}']}, which contains '${': the engine's "
     "configuration system (hydra) would read it as an interpolation, not as text",
     "write the value without '${', or remove storage.storage_options from mlperf_params"),
    (dict(mlperf_params={"reader.read_threads": 0}), "mlperf_params['reader.read_threads']",
     "mlperf_params['reader.read_threads'] is 0; DLIO needs a whole number of at least 1 (reader workers per rank)",
     "set reader.read_threads to 1 or more, or remove it from mlperf_params (the workload's value is then used)"),
    (dict(mlperf_params={"reader": {"batch_size": "-1"}}), "mlperf_params['reader.batch_size']",
     "mlperf_params['reader.batch_size'] is '-1'; DLIO needs a whole number of at least 1 (samples per batch)",
     "set reader.batch_size to 1 or more, or remove it from mlperf_params (the workload's value is then used)"),
    (dict(mlperf_params={"train.epochs": 2.5}), "mlperf_params['train.epochs']",
     "mlperf_params['train.epochs'] is 2.5; DLIO needs a whole number of at least 1 (epochs)",
     "set train.epochs to 1 or more, or remove it from mlperf_params (the workload's value is then used)"),
    (dict(mlperf_params={"dataset..format": "npz"}), "mlperf_params['dataset..format']",
     "'dataset..format' is not a dotted workload key: expected segments separated by single dots",
     "write the key like dataset.num_files_train"),
    (dict(mlperf_params=["reader.read_threads=8"]), "mlperf_params",
     "mlperf_params is a list; it must be a mapping of dotted workload keys to values",
     "write it as a mapping, e.g. mlperf_params: {reader.read_threads: 8}"),
    (dict(mlperf_run_timeout=0), "mlperf_run_timeout",
     "mlperf_run_timeout is 0; it must be at least 1 (seconds one engine run may take)",
     "set mlperf_run_timeout to 1 or more"),
    (dict(mlperf_run_timeout="6h"), "mlperf_run_timeout",
     "mlperf_run_timeout is '6h'; it must be a whole number (seconds one engine run may take)",
     "set mlperf_run_timeout to a whole number of at least 1"),
    (dict(training_progress_interval=0), "training_progress_interval",
     "training_progress_interval is 0; it must be at least 1 (seconds between progress lines)",
     "set training_progress_interval to 1 or more"),
    (dict(kvcache_progress_interval=-5), "kvcache_progress_interval",
     "kvcache_progress_interval is -5; it must be at least 1 (seconds between progress lines)",
     "set kvcache_progress_interval to 1 or more"),
    (dict(vectordb_progress_interval=200), "vectordb_progress_interval",
     "vectordb_progress_interval is 200; it must stay below run_phase_heartbeat_timeout (180): the engine stops "
     "itself when the playbook has not polled it for that long",
     "set vectordb_progress_interval well below 180 (the default is 15)"),
    (dict(run_phase_heartbeat_timeout=0), "run_phase_heartbeat_timeout",
     "run_phase_heartbeat_timeout is 0; it must be at least 1 (seconds without a progress poll before the engine "
     "stops itself)", "set run_phase_heartbeat_timeout to 1 or more"),
    (dict(mlperf_runs=-1), "mlperf_runs", "mlperf_runs is -1; it must be at least 0 (runs to make; 0 = the "
                                          "edition's count)", "set mlperf_runs to 0 or more"),
    (dict(mlperf_accelerators_per_host=0), "mlperf_accelerators_per_host",
     "mlperf_accelerators_per_host is 0; it must be at least 1 (simulated accelerators (MPI ranks) per client)",
     "set mlperf_accelerators_per_host to 1 or more"),
    (dict(mlperf_client_memory_gb=-2), "mlperf_client_memory_gb",
     "mlperf_client_memory_gb is -2; it cannot be below 0 (GiB of memory per client for the dataset size; "
     "0 = the real MemTotal)", "set mlperf_client_memory_gb to 0 (the default) or a positive number"),
    (dict(mlperf_allow_invalid="maybe"), "mlperf_allow_invalid",
     "mlperf_allow_invalid is 'maybe'; it must be true or false",
     "set mlperf_allow_invalid to true or false (yes/no and on/off also work)"),
    (dict(mlperf_drop_caches=2), "mlperf_drop_caches", "mlperf_drop_caches is 2; it must be true or false",
     "set mlperf_drop_caches to true or false (yes/no and on/off also work)"),
    (dict(mlperf_edition="3"), "mlperf_edition", "mlperf_edition is '3'; known editions are 3.0, 2.0",
     'set mlperf_edition to one of them (quoted, e.g. "3.0")'),
    (dict(mlperf_division="CLOSED"), "mlperf_division",
     "mlperf_division is 'CLOSED'; allowed values are closed, open, whatif", "set mlperf_division to one of them"),
    (dict(mlperf_org="my org"), "mlperf_org",
     "mlperf_org is 'my org'; use only letters, digits, '.', '_' and '-' (it is a results path segment).",
     "set mlperf_org to a name like example-org"),
    (dict(mlperf_org=".."), "mlperf_org",
     "mlperf_org is '..'; a results path segment may not start with '.' (the verifier skips hidden directories, "
     "so these runs would never be judged)", "choose a name that starts with a letter or digit"),
    (dict(mlperf_system="systems"), "mlperf_system",
     "mlperf_system is 'systems'; the verifier skips directories of that name (.fs_probe, .mlps, __pycache__, "
     "code-images, collector-staging, dlio_config, systems), so these runs would never be judged",
     "choose another name"),
    (dict(mlperf_data_dir="data"), "mlperf_data_dir",
     "mlperf_data_dir is 'data'; give an absolute path (the same on every client).",
     "set mlperf_data_dir to an absolute path, e.g. /var/tmp/mlperf-storage/data"),
    (dict(mlperf_controller_results_dir="results"), "mlperf_controller_results_dir",
     "mlperf_controller_results_dir is 'results'; give an absolute path (the same on every client).",
     "set mlperf_controller_results_dir to an absolute path, e.g. /var/tmp/mlperf-storage/results"),
    (dict(mlperf_data_dir="/shared/results/data"), "mlperf_data_dir/mlperf_results_dir",
     "mlperf_data_dir (/shared/results/data) is inside mlperf_results_dir (/shared/results); the rules need the "
     "dataset and the results apart, and the verifier would walk the other tree",
     "give mlperf_data_dir and mlperf_results_dir separate directories, neither inside the other"),
    (dict(mlperf_results_dir="/mnt/data/results", mlperf_controller_results_dir="/srv/r"),
     "mlperf_data_dir/mlperf_results_dir",
     "mlperf_results_dir (/mnt/data/results) is inside mlperf_data_dir (/mnt/data); the rules need the dataset and "
     "the results apart, and the verifier would walk the other tree",
     "give mlperf_data_dir and mlperf_results_dir separate directories, neither inside the other"),
    (dict(mlperf_data_dir="/shared/results/", mlperf_controller_results_dir="/srv/r"),
     "mlperf_data_dir/mlperf_results_dir",
     "mlperf_data_dir and mlperf_results_dir are both /shared/results; the rules need the dataset and the results "
     "apart, and the verifier would walk the other tree",
     "give mlperf_data_dir and mlperf_results_dir separate directories, neither inside the other"),
    (dict(mlperf_work_dir="/mnt/data/work"), "mlperf_data_dir/mlperf_work_dir",
     "mlperf_work_dir (/mnt/data/work) is inside mlperf_data_dir (/mnt/data); engine configs and telemetry spool "
     "would land in the dataset (or the dataset in the scratch space)",
     "give mlperf_data_dir and mlperf_work_dir separate directories, neither inside the other"),
    (dict(mlperf_work_dir="/shared/results/tmp", mlperf_controller_results_dir="/srv/r"),
     "mlperf_results_dir/mlperf_work_dir",
     "mlperf_work_dir (/shared/results/tmp) is inside mlperf_results_dir (/shared/results); scratch files would "
     "land in the results tree (or run directories in the scratch space)",
     "give mlperf_results_dir and mlperf_work_dir separate directories, neither inside the other"),
    (dict(mlperf_controller_results_dir="/mnt/data/collected"), "mlperf_controller_results_dir/mlperf_data_dir",
     "mlperf_controller_results_dir (/mnt/data/collected) is inside mlperf_data_dir (/mnt/data); the collected "
     "results would land in the dataset (or the dataset in the results tree)",
     "give mlperf_controller_results_dir and mlperf_data_dir separate directories, neither inside the other"),
])
def test_bad_setting_gives_exactly_its_problem(changes, variable, message, fix):
    found = only(problems(**changes))
    assert (found["host"], found["variable"], found["message"], found["fix"]) == (None, variable, message, fix)
    assert found["text"] == "1. [%s] %s\n   fix: %s" % (variable, message, fix)


def test_launcher_outside_the_clients_group():
    found = only(_inputs.settings_problems([GOOD], ["node1", "node2"], "node9"))
    assert found["message"] == ("mlperf_launcher is 'node9', which is not in group 'clients' (node1, node2). Name one "
                                "of those hosts, or leave it empty for the first.")
    assert found["fix"] == "set mlperf_launcher to one of node1, node2, or to ''"


def test_two_clients_with_one_mpi_host():
    hosts = [dict(GOOD, host="node1", mlperf_mpi_host="10.0.0.1"), dict(GOOD, host="node2"),
             dict(GOOD, host="node3", mlperf_mpi_host="node2")]
    found = only(_inputs.settings_problems(hosts, ["node1", "node2", "node3"], "node1"))
    assert found["variable"] == "mlperf_mpi_host"
    assert found["message"] == ("node2 and node3 both reach MPI as 'node2' (mlperf_mpi_host, or the inventory name "
                                "when it is unset): MPI would start both clients' ranks on one machine")
    assert found["fix"] == "give each client its own mlperf_mpi_host (its address or a name that resolves to it)"


def test_a_problem_of_some_clients_names_them_and_one_of_all_clients_is_said_once():
    hosts = [dict(GOOD, host="node1", mlperf_run_timeout=0), dict(GOOD, host="node2", mlperf_run_timeout=0,
                                                                  mlperf_runs=-1),
             dict(GOOD, host="node3", mlperf_run_timeout=0, mlperf_runs=-1)]
    found = _inputs.settings_problems(hosts, ["node1", "node2", "node3"], "node1")
    assert [(p["variable"], p["host"]) for p in found] == [("mlperf_run_timeout", None),
                                                            ("mlperf_runs", "node2, node3")]
    assert found[1]["text"].startswith("2. [mlperf_runs] node2, node3: mlperf_runs is -1")


def test_the_filter_is_the_same_check():
    found = input_problems([dict(GOOD, mlperf_runs=-1)], ["node1"], "node1")
    assert [p["variable"] for p in found] == ["mlperf_runs"]
    assert found == problems(mlperf_runs=-1)


def test_report_lists_every_problem_with_its_fix():
    text = _inputs.report(problems(mlperf_runs=-1, mlperf_run_timeout=0))
    assert text.splitlines() == [
        "The settings have 2 problem(s); nothing was started:",
        "1. [mlperf_runs] mlperf_runs is -1; it must be at least 0 (runs to make; 0 = the edition's count)",
        "   fix: set mlperf_runs to 0 or more",
        "2. [mlperf_run_timeout] mlperf_run_timeout is 0; it must be at least 1 (seconds one engine run may take)",
        "   fix: set mlperf_run_timeout to 1 or more"]


# --- the plans: the same checks on their request, what needs facts, and never a traceback ------------------------

def test_plan_refuses_an_interpolation_naming_the_key_not_only_the_value():
    plan = plan_training(make_req(params={"storage.storage_root": "${HOME}/x"}))
    assert plan["errors"] == [{
        "variable": "mlperf_params['storage.storage_root']",
        "message": "mlperf_params['storage.storage_root'] is '${HOME}/x', which contains '${': the engine's "
                   "configuration system (hydra) would read it as an interpolation, not as text",
        "fix": "write the value without '${', or remove storage.storage_root from mlperf_params"}]


@pytest.mark.parametrize("plan_function, extra", [
    (plan_training, {}), (plan_checkpointing, {"model": "llama3-8b", "split": False, "checkpoint_folder": "/mnt/c"})])
def test_dlio_plans_refuse_zero_read_threads(plan_function, extra):
    plan = plan_function(make_req(params={"reader.read_threads": 0}, **extra))
    assert [e["variable"] for e in plan["errors"]] == ["mlperf_params['reader.read_threads']"]


def test_closed_run_count_other_than_the_editions_is_an_error_up_front():
    plan = plan_training(make_req(runs=3))
    assert plan["errors"] == [{
        "variable": "mlperf_runs",
        "message": "the planned run would be INVALID: mlperf_runs is 3: 3 training run(s) planned; edition 3.0 "
                   "requires exactly 6 (1 warm-up + 5 measured) consecutive runs",
        "fix": "set mlperf_runs to 0 (the edition's count, 6), or set mlperf_allow_invalid: true for runs that are "
               "not a result",
        "verdict": "INVALID"}]


def test_run_count_with_allow_invalid_is_planned_invalid_with_its_reason():
    plan = plan_training(make_req(runs=3, allow_invalid=True))
    assert plan["errors"] == [] and plan["runs"] == 3
    assert plan["classification"]["verdict"] == "INVALID"
    issue = [i for i in plan["classification"]["issues"] if i["parameter"] == "runs"]
    assert issue and issue[0]["rule_id"] == "2.1.17" and issue[0]["expected"] == 6 and issue[0]["actual"] == 3


def test_the_editions_run_count_is_fine():
    assert plan_training(make_req(runs=6))["errors"] == []
    assert plan_training(make_req(runs=0))["runs"] == 6


def test_plan_names_the_client_whose_cores_cannot_hold_the_ranks():
    plan = plan_training(make_req(clients=[client("node1", cores=64), client("node2", cores=2)],
                                  accelerators_per_host=17))
    assert plan["errors"] == [{
        "variable": "mlperf_accelerators_per_host",
        "message": "node2 has 2 core(s); mlperf_accelerators_per_host 17 puts 17 ranks on it, more than 8 per core, "
                   "so the ranks cannot keep the simulated accelerators busy",
        "fix": "set mlperf_accelerators_per_host to at most 16, or use clients with more cores"}]


def test_oversubscription_is_decided_per_client():
    # 4 ranks on a 2-core client need it even though the two clients together have 66 cores
    plan = plan_training(make_req(clients=[client("node1", cores=64), client("node2", cores=2)]))
    assert plan["rank_layout"]["oversubscribe"] is True
    plan = plan_training(make_req(clients=[client("node1", cores=64), client("node2", cores=4)]))
    assert plan["rank_layout"]["oversubscribe"] is False


def test_plan_names_both_clients_that_share_an_mpi_host():
    plan = plan_training(make_req(clients=[client("node1", mpi_host="10.0.0.1"), client("node2", mpi_host="10.0.0.1")]))
    assert plan["errors"] == [{
        "variable": "mlperf_mpi_host",
        "message": "node1 and node2 both reach MPI as '10.0.0.1' (mlperf_mpi_host, or the inventory name when it is "
                   "unset): MPI would start both clients' ranks on one machine",
        "fix": "give each client its own mlperf_mpi_host (its address or a name that resolves to it)"}]


def test_plan_refuses_nested_paths_and_hidden_names():
    plan = plan_training(make_req(paths={"data_dir": "/r/data", "results_dir": "/r", "work_dir": "/w",
                                         "venv_bin": "/v/bin"}, system=".x"))
    assert [e["variable"] for e in plan["errors"]] == ["mlperf_system", "mlperf_data_dir/mlperf_results_dir"]


@pytest.mark.parametrize("plan_function, benchmark", [
    (plan_training, "training"), (plan_checkpointing, "checkpointing"), (plan_kvcache, "kv_cache"),
    (plan_vectordb, "vector_database")])
def test_an_unexpected_exception_in_a_plan_is_a_named_error_not_a_traceback(plan_function, benchmark):
    plan = plan_function({"params": {"reader.read_threads": 4}})  # a request without its required keys
    error = only(plan["errors"])
    assert plan["benchmark"] == benchmark
    assert error["message"].startswith("the %s plan cannot use the inputs it was given (KeyError: " % benchmark)
    assert error["fix"].startswith("correct the setting the message quotes")


def test_an_unexpected_exception_names_the_mlperf_params_key_it_quotes():
    def broken(planner, req):
        raise ValueError("cannot use value 'zz-top' here")
    plan = plan_function("training")(broken)(make_req(params={"reader.transfer_size": "zz-top"}))
    assert only(plan["errors"])["variable"] == "mlperf_params['reader.transfer_size']"
