# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The training plan core: sizing, rank layout, every bad input it catches, classification, engine adaptation."""
import math
import os

import pytest
import yaml

from _testpaths import REPO
from ansible_collections.mlperf.storage.plugins.plugin_utils._plan_core import failure_message
from ansible_collections.mlperf.storage.plugins.plugin_utils._training_plan import plan_training

GIB = 1024 ** 3
# unet3d on b200 (rules.md 3.1): record length, samples per file, batch size of the reference workload
UNET3D_RECORD, UNET3D_BATCH = 146600628, 7


def client(host, memory_gib=8, cores=2, mpi_host=None):
    return {"host": host, "mpi_host": mpi_host or host, "memtotal_bytes": int(memory_gib * GIB), "cores": cores}


ENGINES = {
    "pypi-2.0.0": {"generation": "pypi-2.0.0", "version": "2.0.0", "source": "pypi", "profile": "embedded",
                   "lock_hash": "a" * 64},
    "mlperf-v3.0": {"generation": "mlperf-v3.0", "version": "3.0.0", "source": "git", "profile": "submission",
                    "lock_hash": "b" * 64},
}


def make_req(**overrides):
    """A correct CLOSED unet3d/b200 request for one 8 GiB client with the MLPerf DLIO engine."""
    req = {
        "edition": "3.0", "division": "closed", "model": "unet3d", "accelerator": "b200", "params": {},
        "clients": [client("node1")], "launcher": "node1", "accelerators_per_host": 4,
        "client_memory_gb": 0, "runs": 0, "engine": dict(ENGINES["mlperf-v3.0"]),
        "mpi": {"implementation": "mpich", "version": "5.0.2", "run_as_root": False, "extra_args": []},
        "paths": {"data_dir": "/mnt/data", "results_dir": "/shared/results", "work_dir": "/var/tmp/work",
                  "venv_bin": "/opt/venv/bin"},
        "org": "acme", "system": "sys1", "allow_invalid": False,
    }
    req.update(overrides)
    return req


def embedded_req(memory_gib=8):
    """The request the training role builds from inventories/local (group_vars/all.yml) on one client."""
    with open(os.path.join(REPO, "inventories", "local", "group_vars", "all.yml")) as handle:
        inv = yaml.safe_load(handle)
    return make_req(
        edition=str(inv["mlperf_edition"]), division=inv["mlperf_division"], model=inv["mlperf_model"],
        accelerator=inv["mlperf_accelerator"], params=inv["mlperf_params"], clients=[client("localhost", memory_gib)],
        launcher="localhost", accelerators_per_host=inv["mlperf_accelerators_per_host"],
        engine=dict(ENGINES["pypi-2.0.0"]), org=inv["mlperf_org"], system=inv["mlperf_system"],
        allow_invalid=inv["mlperf_allow_invalid"],
        paths={"data_dir": inv["mlperf_data_dir"], "results_dir": inv["mlperf_results_dir"],
               "work_dir": inv["mlperf_work_dir"], "venv_bin": inv["python_env_dir"] + "/bin"})


def required_files(total_memory, record_length, np, batch, samples_per_file=1):
    """rules.md 3.4 (v3.x, rounded up): max(5 x memory / file bytes, 500 steps x np x batch / samples)."""
    by_memory = math.ceil(5 * total_memory / (samples_per_file * record_length))
    by_steps = 500 * np * batch // samples_per_file
    return max(by_memory, by_steps), by_memory, by_steps


def only_error(plan):
    assert len(plan["errors"]) == 1, plan["errors"]
    return plan["errors"][0]


# --- the embedded inventory's sizing ---------------------------------------------------------------------------

def test_embedded_inventory_plan():
    plan = plan_training(embedded_req(memory_gib=8))
    assert plan["errors"] == []  # INVALID, but mlperf_allow_invalid is set there
    assert plan["num_files_train"] == 128 and plan["num_processes"] == 2
    assert plan["rank_layout"] == {"hosts": [["localhost", 2]], "np": 2, "oversubscribe": False}
    # the inventory overrides the record length to 256 KiB, but the size rule is stated in the reference
    # workload's samples (the record length may not change), exactly as the rules engine checks it afterwards
    expected, by_memory, by_steps = required_files(8 * GIB, UNET3D_RECORD, 2, UNET3D_BATCH)
    assert (plan["datasize"]["required_files"], plan["datasize"]["files_by_memory"],
            plan["datasize"]["files_by_steps"]) == (expected, by_memory, by_steps)
    assert plan["datasize"]["dominant"] == ("memory" if by_memory >= by_steps else "steps")
    assert any("num_files_train=128 is below the datasize requirement of %d" % expected in w
               for w in plan["warnings"])
    assert plan["runs"] == 6  # 1 warm-up + 5 measured (edition 3.0)
    base = "/var/tmp/mlperf-storage/results/open/embedded/results/localhost/training/unet3d"
    assert plan["paths"]["run_base"] == base + "/run" and plan["paths"]["datagen_base"] == base + "/datagen"
    assert plan["data_folder"] == "/var/tmp/mlperf-storage/data/unet3d"
    assert plan["overrides"]["dataset.data_folder"] == plan["data_folder"]


def test_embedded_inventory_is_invalid_for_its_reasons():
    plan = plan_training(embedded_req())
    classification = plan["classification"]
    assert classification["verdict"] == "INVALID"
    invalid = {(i["rule_id"], i["parameter"]) for i in classification["issues"] if i["validation"] == "INVALID"}
    assert ("3.1.2", "dataset.num_files_train") in invalid            # far below the datasize rule
    assert ("ENGINE-01", "engine.generation") in invalid               # PyPI DLIO ignores MLPerf keys
    for key in ("dataset.record_length_bytes", "dataset.record_length_bytes_stdev",
                "dataset.record_length_bytes_resize"):
        assert ("3.6.2", key) in invalid                               # not an allowed override


def test_embedded_inventory_without_allow_invalid_lists_each_reason_with_its_fix():
    req = embedded_req()
    req["allow_invalid"] = False
    plan = plan_training(req)
    by_variable = {}
    for err in plan["errors"]:
        assert err["message"].startswith("the planned run would be INVALID: ")
        by_variable.setdefault(err["variable"], []).append(err)
    assert [e["fix"] for e in by_variable["mlperf_env_profile"]] == [
        "install the MLPerf DLIO build on every client (mlperf_env_profile: submission, then playbooks/provision.yml)"]
    fixes = [e["fix"] for e in by_variable["mlperf_params"]]
    assert "remove dataset.record_length_bytes from mlperf_params (the open division keeps the reference value)" \
        in fixes
    assert any(f.startswith("set dataset.num_files_train to at least ") for f in fixes)
    # one entry per parameter, not the same parameter once per rule that trips over it
    assert len(fixes) == len(set(fixes))
    text = failure_message("training", plan["errors"])
    assert text.splitlines()[0] == "The training plan has %d problem(s); nothing was started:" % len(plan["errors"])
    assert "mlperf_allow_invalid: true" in text.splitlines()[-1]


# --- datasize: real memory vs the explicit override ----------------------------------------------------------------

def test_datasize_from_real_memtotal():
    req = make_req(clients=[client("node1", 64), client("node2", 32)], accelerators_per_host=1)
    plan = plan_training(req)
    total = 96 * GIB
    expected, by_memory, _ = required_files(total, UNET3D_RECORD, 2, UNET3D_BATCH)
    assert plan["datasize"]["total_memory_bytes"] == total
    assert plan["datasize"]["memory_source"] == "sum of MemTotal of 2 client(s)"
    assert plan["datasize"]["required_files"] == expected
    assert plan["num_files_train"] == expected  # no file count given: the minimum is used and said so
    assert any("set to the datasize minimum %d" % expected in n for n in plan["notes"])
    assert not any("mlperf_client_memory_gb" in w for w in plan["warnings"])
    assert plan["metadata_base"]["system_info"]["total_memory_bytes"] == total


def test_datasize_from_client_memory_override_is_recorded():
    req = make_req(clients=[client("node1", 64), client("node2", 32)], accelerators_per_host=1,
                   client_memory_gb=512)
    plan = plan_training(req)
    total = 2 * 512 * GIB
    expected, by_memory, by_steps = required_files(total, UNET3D_RECORD, 2, UNET3D_BATCH)
    assert by_memory > by_steps  # the override really drives the size
    assert plan["datasize"]["total_memory_bytes"] == total and plan["datasize"]["required_files"] == expected
    assert "explicit override" in plan["datasize"]["memory_source"]
    assert any("mlperf_client_memory_gb=512" in w for w in plan["warnings"])
    meta = plan["metadata_base"]
    assert meta["system_info"]["total_memory_bytes"] == total
    assert meta["args"]["client_host_memory_in_gb"] == 512
    # the real per-host memory stays on record next to the override
    assert [h["memory_bytes"] for h in meta["system_info"]["hosts"]] == [64 * GIB, 32 * GIB]


def test_missing_memtotal_without_override_is_an_error():
    req = make_req(clients=[client("node1"), dict(client("node2"), memtotal_bytes=None)])
    err = only_error(plan_training(req))
    assert err["variable"] == "mlperf_client_memory_gb"
    assert err["message"] == "no MemTotal fact for node2"
    assert "set mlperf_client_memory_gb" in err["fix"]


# --- rank layout ------------------------------------------------------------------------------------------------

def test_rank_layout_one_host():
    plan = plan_training(make_req(clients=[client("node1", cores=8)], accelerators_per_host=4))
    assert plan["rank_layout"] == {"hosts": [["node1", 4]], "np": 4, "oversubscribe": False}
    argv = plan["commands"]["run"]["argv"]
    assert argv[:5] == ["/opt/venv/bin/mpirun", "-n", "4", "-hosts", "node1:4"]
    assert "/opt/venv/bin/dlio_benchmark" in argv and "workload=unet3d_b200" in argv
    assert plan["commands"]["datagen"]["argv"][:5] == argv[:5]


def test_rank_layout_three_hosts_uses_mpi_host_names():
    clients = [client("node%d" % i, cores=2, mpi_host="10.0.0.%d" % i) for i in (1, 2, 3)]
    plan = plan_training(make_req(clients=clients, launcher="node1", accelerators_per_host=2))
    assert plan["rank_layout"]["hosts"] == [["10.0.0.1", 2], ["10.0.0.2", 2], ["10.0.0.3", 2]]
    assert plan["num_processes"] == plan["rank_layout"]["np"] == 6
    assert plan["rank_layout"]["oversubscribe"] is False  # 6 ranks on 6 cores
    argv = plan["commands"]["run"]["argv"]
    assert argv[argv.index("-n") + 1] == "6"
    assert argv[argv.index("-hosts") + 1] == "10.0.0.1:2,10.0.0.2:2,10.0.0.3:2"
    assert plan["metadata_base"]["args"]["hosts"] == ["10.0.0.1", "10.0.0.2", "10.0.0.3"]
    assert plan["metadata_base"]["system_info"]["num_hosts"] == 3


def test_more_ranks_than_cores_oversubscribes():
    plan = plan_training(make_req(clients=[client("node1", cores=2)], accelerators_per_host=4))
    assert plan["rank_layout"]["oversubscribe"] is True


# --- bad input: each gives exactly its error ----------------------------------------------------------------------

@pytest.mark.parametrize("overrides, variable, message, fix", [
    (dict(model="unet4d"), "mlperf_model",
     "unknown training model 'unet4d'; allowed values are cosmoflow, flux, resnet50, retinanet, unet3d",
     "set mlperf_model to one of them"),
    (dict(accelerator="h200"), "mlperf_accelerator",
     "unknown accelerator 'h200'; allowed values are a100, b200, h100, mi355",
     "set mlperf_accelerator to one of them"),
    (dict(accelerator="mi355"), "mlperf_accelerator",
     "'mi355' is not available for mlperf_model 'unet3d' in edition 3.0; allowed accelerators for it are a100, b200",
     "set mlperf_accelerator to one of them"),
    (dict(accelerator="a100"), "mlperf_division",
     "unet3d + a100 may not run in division 'closed' of edition 3.0; allowed divisions for this pair are whatif",
     "set mlperf_division to one of them, or choose a pair that closed allows"),
    (dict(edition="9.9"), "mlperf_edition", "unknown edition '9.9'; known editions are 3.0, 2.0",
     "set mlperf_edition to one of them"),
    (dict(division="secret"), "mlperf_division",
     "unknown division 'secret'; allowed values are closed, open, whatif", "set mlperf_division to one of them"),
    (dict(params={"dataset.format": "npy"}), "mlperf_params",
     "dataset.format may only be overridden in the OPEN division, and mlperf_division is closed",
     "remove dataset.format from mlperf_params, or set mlperf_division: open"),
    (dict(params=["dataset.num_files_train=10"]), "mlperf_params",
     "mlperf_params is a list; it must be a mapping of dotted workload keys to values",
     "write it as a mapping, e.g. mlperf_params: {reader.read_threads: 8}"),
    (dict(accelerators_per_host=0), "mlperf_accelerators_per_host",
     "accelerators_per_host for 'node1' must be a whole number greater than 0, got 0. "
     "Give how many accelerators the benchmark emulates on that host.",
     "set mlperf_accelerators_per_host to a whole number of at least 1"),
    (dict(client_memory_gb=-1), "mlperf_client_memory_gb", "mlperf_client_memory_gb is -1; it cannot be negative",
     "set mlperf_client_memory_gb to 0 (the default) or a positive number"),
    (dict(runs=-2), "mlperf_runs", "mlperf_runs is -2; it cannot be negative",
     "set mlperf_runs to 0 (the default) or a positive number"),
    (dict(clients=[]), "clients", "the inventory group 'clients' has no hosts",
     "put the hosts that run benchmark ranks in a group named 'clients'"),
])
def test_bad_input_gives_exactly_its_error(overrides, variable, message, fix):
    plan = plan_training(make_req(**overrides))
    assert plan["errors"] == [{"variable": variable, "message": message, "fix": fix}]


def test_unknown_model_and_accelerator_are_both_reported():
    plan = plan_training(make_req(model="x", accelerator="y"))
    assert [e["variable"] for e in plan["errors"]] == ["mlperf_model", "mlperf_accelerator"]


def test_open_override_in_closed_is_reported_once():
    plan = plan_training(make_req(params={"dataset.format": "npy", "reader.read_threads": 8}))
    assert plan["classification"]["verdict"] == "OPEN"
    assert [e["message"] for e in plan["errors"]] == [
        "dataset.format may only be overridden in the OPEN division, and mlperf_division is closed"]


def test_open_override_is_fine_in_open():
    plan = plan_training(make_req(division="open", params={"dataset.format": "npy"}))
    assert plan["errors"] == [] and plan["classification"]["verdict"] == "OPEN"


def test_num_files_train_below_datasize_in_closed():
    plan = plan_training(make_req(params={"dataset.num_files_train": 100}))
    expected, _, _ = required_files(8 * GIB, UNET3D_RECORD, 4, UNET3D_BATCH)
    err = only_error(plan)
    assert err["variable"] == "mlperf_params"
    assert err["message"].startswith("the planned run would be INVALID: dataset.num_files_train=100 is below the "
                                     "minimum %d" % expected)
    assert err["fix"] == ("set dataset.num_files_train to at least %d in mlperf_params, or remove it from "
                          "mlperf_params (the plan then uses the datasize minimum)" % expected)


def test_num_files_train_at_the_minimum_is_closed():
    expected, _, _ = required_files(8 * GIB, UNET3D_RECORD, 4, UNET3D_BATCH)
    plan = plan_training(make_req(params={"dataset.num_files_train": expected}))
    assert plan["errors"] == [] and plan["classification"]["verdict"] == "CLOSED"
    plan = plan_training(make_req(params={"dataset.num_files_train": expected - 1}))
    assert plan["classification"]["verdict"] == "INVALID"


def test_allow_invalid_lets_an_invalid_plan_through_and_says_so():
    plan = plan_training(make_req(params={"dataset.num_files_train": 100}, allow_invalid=True))
    assert plan["errors"] == []
    assert plan["classification"]["verdict"] == "INVALID"
    assert plan["metadata_base"]["args"]["allow_invalid_params"] is True
    assert any("below the datasize requirement" in w for w in plan["warnings"])


def test_disallowed_override_is_invalid_with_its_own_fix():
    plan = plan_training(make_req(params={"train.epochs": 3}))
    err = only_error(plan)  # the reference-value check on the same key is not repeated
    assert err["variable"] == "mlperf_params"
    assert err["message"].startswith("the planned run would be INVALID: disallowed parameter override train.epochs")
    assert err["fix"] == "remove train.epochs from mlperf_params (the closed division keeps the reference value)"
    assert {i["rule_id"] for i in plan["classification"]["issues"]
            if i["validation"] == "INVALID"} == {"3.6.2", "3.6.3"}


def test_no_engine_generation_is_an_error():
    err = only_error(plan_training(make_req(engine={})))
    assert err["variable"] == "mlperf_env_profile"
    assert "names no engine generation" in err["message"] and "provision.yml" in err["fix"]


def test_unknown_mpi_implementation_is_an_error():
    req = make_req(mpi={"implementation": "lam"})
    err = only_error(plan_training(req))
    assert err["variable"] == "mpi_implementation" and "'lam' is not supported" in err["message"]


# --- classification ------------------------------------------------------------------------------------------------

def test_correct_closed_plan_on_the_mlperf_engine_is_closed():
    plan = plan_training(make_req())
    assert plan["errors"] == []
    assert plan["classification"]["verdict"] == "CLOSED"
    assert not [i for i in plan["classification"]["issues"] if i["validation"] != "CLOSED"]
    assert plan["metadata_base"]["engine"]["generation"] == "mlperf-v3.0"


def test_the_same_plan_on_the_pypi_engine_is_invalid():
    plan = plan_training(make_req(engine=dict(ENGINES["pypi-2.0.0"])))
    assert plan["classification"]["verdict"] == "INVALID"
    err = only_error(plan)
    assert err["variable"] == "mlperf_env_profile" and "ignores MLPerf workload keys" in err["message"]


# --- engine generations: refusals and translations ----------------------------------------------------------------

def test_engine_refusal_on_pypi_reaches_errors_even_when_invalid_is_allowed():
    req = make_req(division="open", params={"reader.odirect": True}, engine=dict(ENGINES["pypi-2.0.0"]),
                   allow_invalid=True)
    plan = plan_training(req)
    err = only_error(plan)
    assert err["variable"] == "mlperf_params"
    assert err["message"].startswith("the installed engine (DLIO pypi-2.0.0) would not apply reader.odirect: ")
    assert err["fix"].endswith("or remove reader.odirect from mlperf_params")
    assert "mlperf_env_profile: submission" in err["fix"]


def test_mistyped_key_is_refused_with_a_suggestion():
    plan = plan_training(make_req(params={"reader.read_thread": 8}))
    refusals = [e for e in plan["errors"] if e["message"].startswith("the installed engine")]
    assert len(refusals) == 1
    assert refusals[0]["fix"] == "remove reader.read_thread from mlperf_params (did you mean reader.read_threads?)"
    # the same key is not reported a second time by the classification
    assert len(plan["errors"]) == 1


def test_translations_are_recorded_for_pypi():
    plan = plan_training(embedded_req())
    translations = {(t["from"], t["to"]) for t in plan["engine"]["translations"]}
    assert ("dataset.record_length_bytes", "dataset.record_length") in translations
    assert ("dataset.record_length_bytes_stdev", "dataset.record_length_stdev") in translations
    # the engine reads the translated name, and the metadata keeps the rules' name
    assert "++workload.dataset.record_length=262144" in plan["commands"]["run"]["argv"]
    assert plan["parameters"]["dataset"]["record_length_bytes"] == 262144


def test_no_translation_needed_on_the_mlperf_engine():
    plan = plan_training(make_req())
    assert not any(t["from"].startswith("dataset.record_length") for t in plan["engine"]["translations"])
    assert plan["commands"]["run"]["workload"]["dataset"]["record_length_bytes"] == UNET3D_RECORD


def test_earlier_runs_of_the_same_system_and_model_stop_the_plan():
    earlier = [{"name": "20261201_100000", "complete": True}, {"name": "20261201_101500", "complete": False}]
    plan = plan_training(make_req(existing_runs=earlier))
    errors = [e for e in plan["errors"] if e["variable"] == "mlperf_system"]
    assert len(errors) == 1, plan["errors"]
    message = errors[0]["message"]
    assert message.startswith("the planned run would be INVALID: the results tree already holds 2 run(s) of ")
    assert "(1 complete, the latest 20261201_101500); with these 6 it would hold 8" in message
    assert "exactly 6 per system and model" in message and "archive" in errors[0]["fix"]
    # allowed INVALID: planned INVALID with the reason, no error
    allowed = plan_training(make_req(existing_runs=earlier, allow_invalid=True))
    assert not [e for e in allowed["errors"] if e["variable"] == "mlperf_system"]
    assert allowed["classification"]["verdict"] == "INVALID"
    assert any(i.get("parameter") == "existing_runs" for i in allowed["classification"]["issues"])
    # none earlier: nothing to say
    assert not [e for e in plan_training(make_req())["errors"] if e["variable"] == "mlperf_system"]
