# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The checkpointing plan: exact DLIO/MPI commands for the MLPerf DLIO grammar, process-count rules, the split,
refusal of the PyPI engine, and the classification of every planned invocation."""
import copy
import os

import pytest
import yaml

from _testpaths import REPO

from ansible_collections.mlperf.storage.plugins.plugin_utils import _checkpointing_plan as plan_mod
from ansible_collections.mlperf.storage.plugins.plugin_utils.rules import load_edition

GIB = 1024 ** 3


def request(**changes):
    req = {
        "edition": "3.0", "division": "closed", "model": "llama3-8b", "accelerator": "b200", "params": {},
        "clients": [{"host": "c1", "mpi_host": "c1", "memtotal_bytes": 64 * GIB, "cores": 32}],
        "launcher": "c1", "accelerators_per_host": 8, "split": False, "checkpoint_folder": "/mnt/ckpt",
        "engine": {"generation": "mlperf-v3.0", "version": "3.0.2", "source": "git+https://x", "profile": "submission",
                   "lock_hash": "f" * 64},
        "mpi": {"implementation": "openmpi", "mpirun": "/usr/bin/mpirun", "run_as_root": False, "extra_args": []},
        "paths": {"results_dir": "/results", "work_dir": "/work", "venv_bin": "/venv/bin"},
        "org": "org", "system": "sys", "allow_invalid": False,
    }
    req.update(changes)
    return req


def clients(n, memory_gb=64):
    return [{"host": "c%d" % i, "mpi_host": "c%d" % i, "memtotal_bytes": memory_gb * GIB, "cores": 32}
            for i in range(1, n + 1)]


def test_combined_run_command_is_the_mlperf_dlio_grammar():
    plan = plan_mod.plan_checkpointing(request())
    assert plan["errors"] == []
    assert [p["phase"] for p in plan["phases"]] == ["run"]
    argv = plan["commands"]["run"]["argv"]
    assert argv == [
        "/usr/bin/mpirun", "-np", "8", "-host", "c1:8", "-x", "PATH", "-x", "MLPERF_STORAGE_RUN_ID",
        "/venv/bin/dlio_benchmark", "workload=llama3_8b", "++hydra.run.dir='@RUN_DIR@'",
        "++hydra.output_subdir=dlio_config",
        "++workload.checkpoint.checkpoint_folder=/mnt/ckpt/llama3-8b",
        "++workload.checkpoint.num_checkpoints_write=10",
        "++workload.checkpoint.num_checkpoints_read=10",
        "--config-dir=/work/dlio_workloads",
    ]
    assert plan["commands"]["run"]["launcher_env"]["PATH"].startswith("/venv/bin:")
    assert plan["paths"]["run_base"] == "/results/closed/org/results/sys/checkpointing/llama3-8b"  # no command level
    assert plan["verdict"] == "CLOSED"


def test_split_builds_a_write_only_then_a_read_only_invocation():
    plan = plan_mod.plan_checkpointing(request(split=True))
    assert plan["errors"] == []
    assert [(p["phase"], p["writes"], p["reads"]) for p in plan["phases"]] == [("write", 10, 0), ("read", 0, 10)]
    write, read = (p["commands"]["run"]["argv"] for p in plan["phases"])
    assert "++workload.checkpoint.num_checkpoints_write=10" in write
    assert "++workload.checkpoint.num_checkpoints_read=0" in write
    assert "++workload.checkpoint.num_checkpoints_write=0" in read
    assert "++workload.checkpoint.num_checkpoints_read=10" in read
    for phase in plan["phases"]:
        meta = phase["metadata_base"]
        assert meta["parameters"]["checkpoint"]["num_checkpoints_write"] == phase["writes"]
        assert meta["args"]["num_checkpoints_read"] == phase["reads"]
        assert phase["classification"]["verdict"] == "CLOSED"
    assert any("30 s" in note for note in plan["notes"])


def test_the_workload_file_is_the_closed_reference():
    """What the plan writes as the workload file equals the edition's reference for every model."""
    edition = load_edition("3.0")
    for model in ("llama3-8b", "llama3-70b", "llama3-405b", "llama3-1t"):
        workload = plan_mod.load_workload(model)
        reference = edition.checkpoint_model(model)["reference"]
        flat = plan_mod._workloads.flatten(workload)
        for key, value in plan_mod._workloads.flatten(reference).items():
            assert flat[key] == value, (model, key)


@pytest.mark.parametrize("model,hosts,per_host", [("llama3-8b", 1, 8), ("llama3-70b", 8, 8), ("llama3-405b", 64, 8),
                                                  ("llama3-1t", 128, 8)])
def test_closed_process_counts_of_table_2_plan_closed(model, hosts, per_host):
    plan = plan_mod.plan_checkpointing(request(model=model, clients=clients(hosts), accelerators_per_host=per_host))
    assert plan["errors"] == [], plan["errors"]
    assert plan["num_processes"] == hosts * per_host and plan["verdict"] == "CLOSED"
    assert "workload=%s" % model.replace("-", "_") in plan["commands"]["run"]["argv"]


def test_wrong_process_count_in_closed_names_the_count_and_the_fix():
    plan = plan_mod.plan_checkpointing(request(accelerators_per_host=6))
    assert len(plan["errors"]) == 1
    err = plan["errors"][0]
    assert err["variable"] == "mlperf_accelerators_per_host"
    assert "exactly 8 processes" in err["message"] and "= 6 processes" in err["message"]
    assert "mlperf_accelerators_per_host: 8" in err["fix"]
    assert "phases" not in plan


def test_open_accepts_multiples_of_tp_pp_only():
    ok = plan_mod.plan_checkpointing(request(division="open", model="llama3-70b", clients=clients(2),
                                             accelerators_per_host=8))
    assert ok["errors"] == [] and ok["num_processes"] == 16 and ok["verdict"] == "OPEN"
    bad = plan_mod.plan_checkpointing(request(division="open", model="llama3-70b", clients=clients(2),
                                              accelerators_per_host=6))
    assert "multiple of TPxPP=8" in bad["errors"][0]["message"]


def test_four_processes_per_host_is_refused_in_closed():
    plan = plan_mod.plan_checkpointing(request(clients=clients(2), accelerators_per_host=4))
    assert [e["variable"] for e in plan["errors"]] == ["mlperf_accelerators_per_host"]
    assert "more than 4 per host" in plan["errors"][0]["message"]
    assert "more than 4 processes on every client" in plan["errors"][0]["fix"]


def test_pypi_engine_is_refused_with_one_message_naming_the_submission_profile():
    plan = plan_mod.plan_checkpointing(request(engine={"generation": "pypi-2.0.0", "version": "2.0.0"}))
    assert len(plan["errors"]) == 1
    err = plan["errors"][0]
    assert err["variable"] == "mlperf_env_profile"
    assert "pypi-2.0.0" in err["message"] and "checkpoint.num_checkpoints_write" in err["message"]
    assert "mlperf_env_profile: submission" in err["fix"]
    assert "phases" not in plan and "commands" not in plan


def test_closed_allows_only_the_checkpoint_folder_override():
    plan = plan_mod.plan_checkpointing(request(params={"checkpoint.checkpoint_folder": "/fast/ckpt",
                                                       "checkpoint.time_between_checkpoints": 1}))
    assert [e["variable"] for e in plan["errors"]] == ["mlperf_params"]
    assert "checkpoint.time_between_checkpoints may not be changed in CLOSED" in plan["errors"][0]["message"]
    plan = plan_mod.plan_checkpointing(request(params={"checkpoint.checkpoint_folder": "/fast/ckpt"}))
    assert plan["errors"] == []
    assert "++workload.checkpoint.checkpoint_folder=/fast/ckpt" in plan["commands"]["run"]["argv"]


def test_open_override_reaches_the_command_and_makes_the_run_open():
    plan = plan_mod.plan_checkpointing(request(division="open", params={"checkpoint.time_between_checkpoints": 1}))
    assert plan["errors"] == []
    assert "++workload.checkpoint.time_between_checkpoints=1" in plan["commands"]["run"]["argv"]
    assert plan["verdict"] == "OPEN"


def test_counts_are_the_plans_business():
    plan = plan_mod.plan_checkpointing(request(division="open", params={"checkpoint.num_checkpoints_read": 3}))
    assert any("checkpoint.num_checkpoints_read is set by the plan" in e["message"] for e in plan["errors"])


def test_accelerator_memory_too_small_for_the_checkpoint_is_invalid():
    # 8 x h100 (80 GB) = 640 GB cannot hold llama3-70b's 912 GB: only in whatif, where h100 exists
    plan = plan_mod.plan_checkpointing(request(division="whatif", model="llama3-70b", accelerator="h100",
                                               accelerators_per_host=8, allow_invalid=False))
    assert any("cannot hold the 912 GB" in e["message"] for e in plan["errors"]), plan["errors"]


def test_unknown_model_and_accelerator_are_named():
    plan = plan_mod.plan_checkpointing(request(model="llama3-13b", accelerator="h100"))
    variables = [e["variable"] for e in plan["errors"]]
    assert variables == ["mlperf_model", "mlperf_accelerator"]
    assert "llama3-8b" in plan["errors"][0]["fix"] and "b200, mi355" in plan["errors"][1]["fix"]


def test_datasize_and_memory_warning():
    plan = plan_mod.plan_checkpointing(request(clients=[{"host": "c1", "mpi_host": "c1",
                                                         "memtotal_bytes": 256 * GIB, "cores": 64}]))
    size = plan["datasize"]
    assert size["total_gb"] == pytest.approx(105) and size["per_rank_gb"] == [pytest.approx(105 / 8)] * 8
    assert size["aggregate_accelerator_memory_gb"] == 8 * 180
    assert any("checkpointing_split: true" in w for w in plan["warnings"])  # 105 GB < 3 x 256 GiB


def test_metadata_base_has_the_fields_the_rules_read():
    meta = plan_mod.plan_checkpointing(request())["metadata_base"]
    assert meta["benchmark_type"] == "checkpointing" and meta["command"] == "run"
    assert meta["args"]["checkpoint_folder"] == "/mnt/ckpt/llama3-8b" and meta["args"]["results_dir"] == "/results"
    assert meta["override_parameters"]["checkpoint.checkpoint_folder"] == "/mnt/ckpt/llama3-8b"
    assert meta["engine"]["generation"] == "mlperf-v3.0" and meta["system_info"]["num_hosts"] == 1


def test_mpich_command_uses_hydra_flags():
    plan = plan_mod.plan_checkpointing(request(mpi={"implementation": "mpich", "mpirun": None, "run_as_root": True,
                                                    "extra_args": []}))
    argv = plan["commands"]["run"]["argv"]
    assert argv[:5] == ["/venv/bin/mpirun", "-n", "8", "-hosts", "c1:8"]
    assert argv[5:8] == ["-genv", "PATH", "/venv/bin:/usr/local/bin:/usr/bin:/bin"]


def test_llama_workload_files_are_yaml_of_the_workload_block():
    for size in ("8b", "70b", "405b", "1t"):
        path = os.path.join(REPO, "plugins", "plugin_utils", "data", "workloads", "llama3_%s.yaml" % size)
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle)
        assert data["workflow"] == {"generate_data": False, "train": False, "checkpoint": True}
        assert data["checkpoint"]["fsync"] is True and data["model"]["name"] == "llama_%s" % size


def test_plan_is_json_serialisable_and_does_not_alias_the_template():
    import json
    plan = plan_mod.plan_checkpointing(request(split=True))
    json.dumps(plan)
    before = copy.deepcopy(plan_mod.load_workload("llama3-8b"))
    plan["phases"][0]["parameters"]["checkpoint"]["fsync"] = False
    assert plan_mod.load_workload("llama3-8b") == before


# --- checkpoint counts (upstream --num-checkpoints-write/-read): OPEN only --------------------------------------

def test_open_counts_reach_the_command_the_metadata_and_stay_open():
    plan = plan_mod.plan_checkpointing(request(division="open", num_checkpoints_write=3, num_checkpoints_read=2))
    assert plan["errors"] == [], plan["errors"]
    argv = plan["commands"]["run"]["argv"]
    assert "++workload.checkpoint.num_checkpoints_write=3" in argv
    assert "++workload.checkpoint.num_checkpoints_read=2" in argv
    args = plan["metadata_base"]["args"]
    assert (args["num_checkpoints_write"], args["num_checkpoints_read"]) == (3, 2)
    assert plan["verdict"] == "OPEN"
    assert any("3 checkpoint writes and 2 reads" in n for n in plan["notes"])
    split = plan_mod.plan_checkpointing(request(division="open", split=True, num_checkpoints_write=4,
                                                num_checkpoints_read=5))
    assert [(p["writes"], p["reads"]) for p in split["phases"]] == [(4, 0), (0, 5)]


def test_closed_keeps_ten_and_names_the_variable():
    assert plan_mod.plan_checkpointing(request(num_checkpoints_write=10, num_checkpoints_read=10))["errors"] == []
    plan = plan_mod.plan_checkpointing(request(num_checkpoints_write=5))
    [error] = plan["errors"]
    assert error["variable"] == "checkpointing_num_checkpoints_write"
    assert "CLOSED writes and reads exactly 10 checkpoints" in error["message"]
    assert "mlperf_division: open" in error["fix"]


@pytest.mark.parametrize("changes, variable, text", [
    ({"num_checkpoints_write": 0, "num_checkpoints_read": 0}, "checkpointing_num_checkpoints_write",
     "would neither write nor read"),
    ({"num_checkpoints_read": -1}, "checkpointing_num_checkpoints_read", "0 or more"),
    ({"split": True, "num_checkpoints_read": 0}, "checkpointing_split", "checkpointing_num_checkpoints_read is 0"),
])
def test_bad_open_counts_are_named(changes, variable, text):
    plan = plan_mod.plan_checkpointing(request(division="open", **changes))
    assert [e["variable"] for e in plan["errors"]] == [variable], plan["errors"]
    assert text in plan["errors"][0]["message"]


# --- subset mode (checkpointing_subset; upstream --checkpoint-subset, rules 4.3.5) --------------------------------

def _rule(classification, rule_id):
    return [i for i in classification["issues"] if i.get("rule_id") == rule_id]


def test_closed_llama3_8b_subset_is_the_full_invocation_recorded_as_declared():
    full = plan_mod.plan_checkpointing(request())
    plan = plan_mod.plan_checkpointing(request(subset=True))
    assert plan["errors"] == [], plan["errors"]
    # 8 of llama3-8b's 8 ranks: the same command as the full run (a subset override would make the MLPerf DLIO stop:
    # model.parallelism.data 8/8 = 1 x TP 1 x PP 1 is fewer ranks than 8)
    assert plan["commands"]["run"]["argv"] == full["commands"]["run"]["argv"]
    assert plan["subset"] == {"declared": True, "data_parallelism": None, "overrides": {}}
    meta = plan["metadata_base"]
    assert meta["args"]["checkpoint_subset"] is True and full["metadata_base"]["args"]["checkpoint_subset"] is False
    assert "checkpoint.mode" not in meta["override_parameters"]
    assert plan["verdict"] == "CLOSED"
    [rule] = _rule(plan["classification"], "4.3.5")
    assert rule["validation"] == "CLOSED" and "subset run of llama3-8b on 8 processes" in rule["message"]
    assert any("declared subset run" in note for note in plan["notes"])


@pytest.mark.parametrize("model,hosts,text,fix", [
    ("llama3-70b", 8, "CLOSED allows subset mode only for llama3-8b on exactly 8 processes (rules 4.3.5), not for "
                      "llama3-70b", "set checkpointing_subset: false for the full llama3-70b run (64 processes)"),
    ("llama3-70b", 1, "not for llama3-70b", "or set mlperf_division: open for a subset of it (fewer than 64"),
    ("llama3-405b", 64, "not for llama3-405b", "a multiple of TPxPP=256"),
])
def test_closed_subset_of_another_model_is_refused_with_one_error(model, hosts, text, fix):
    plan = plan_mod.plan_checkpointing(request(subset=True, model=model, clients=clients(hosts)))
    [error] = plan["errors"]
    assert error["variable"] == "checkpointing_subset"
    assert error["message"].startswith("checkpointing_subset is true, but ") and text in error["message"]
    assert fix in error["fix"]
    assert "phases" not in plan and "commands" not in plan


def test_closed_llama3_8b_subset_on_another_count_names_the_count():
    plan = plan_mod.plan_checkpointing(request(subset=True, accelerators_per_host=6))
    [error] = plan["errors"]
    assert error["variable"] == "checkpointing_subset"
    assert "a CLOSED llama3-8b subset run has exactly 8 processes (rules 4.3.5); the inventory gives 6" in error[
        "message"]
    assert "mlperf_accelerators_per_host equal 8" in error["fix"]


@pytest.mark.parametrize("model,hosts,data,total_gb", [("llama3-70b", 1, 8, 912 / 8), ("llama3-70b", 4, 8, 912 / 2),
                                                       ("llama3-405b", 32, 2, None)])
def test_open_subset_below_the_full_count_sends_the_upstream_overrides(model, hosts, data, total_gb):
    plan = plan_mod.plan_checkpointing(request(subset=True, division="open", model=model, clients=clients(hosts)))
    assert plan["errors"] == [], plan["errors"]
    argv = plan["commands"]["run"]["argv"]
    assert "++workload.checkpoint.mode=subset" in argv and "++workload.model.parallelism.data=%d" % data in argv
    meta = plan["metadata_base"]
    assert meta["override_parameters"]["checkpoint.mode"] == "subset"
    assert meta["override_parameters"]["model.parallelism.data"] == data
    assert meta["parameters"]["model"]["parallelism"]["data"] == data
    assert meta["parameters"]["checkpoint"]["mode"] == "subset"
    # upstream's flag is the 8B claim only; a smaller run of a larger model carries the override and no flag
    assert meta["args"]["checkpoint_subset"] is False
    size = plan["datasize"]
    assert size["subset_of"] == load_edition("3.0").checkpoint_model(model)["closed_processes"]
    assert len(size["per_rank_gb"]) == plan["num_processes"]
    if total_gb:
        assert size["total_gb"] == pytest.approx(total_gb, rel=0.01)
    assert plan["verdict"] == "OPEN"
    assert not [i for i in _rule(plan["classification"], "4.3.5") if i["validation"] == "INVALID"]


@pytest.mark.parametrize("model,hosts,fix", [
    ("llama3-70b", 8, "set checkpointing_subset: false, or run fewer than 64 processes (a multiple of TPxPP=8)"),
    ("llama3-8b", 2, "set checkpointing_subset: false, or run exactly 8 processes (the declared llama3-8b subset)"),
])
def test_open_subset_at_the_full_count_or_more_is_refused(model, hosts, fix):
    plan = plan_mod.plan_checkpointing(request(subset=True, division="open", model=model, clients=clients(hosts)))
    [error] = plan["errors"]
    assert error["variable"] == "checkpointing_subset" and "subset mode runs part of a full %s run" % model in error[
        "message"]
    assert error["fix"] == fix


def test_subset_is_refused_on_an_engine_without_a_subset_mode():
    plan = plan_mod.plan_checkpointing(request(subset=True, engine={"generation": "pypi-2.0.0", "version": "2.0.0"}))
    [error] = plan["errors"]
    assert error["variable"] == "mlperf_env_profile"
    assert "pypi-2.0.0) has no subset checkpoint mode" in error["message"]
    assert "mlperf_env_profile: submission" in error["fix"] and "checkpointing_subset: false" in error["fix"]
    assert "phases" not in plan
    # both MLPerf builds implement it (their config validation and checkpoint sharding read model.parallelism.data)
    for generation in ("mlperf-v2.0", "mlperf-v3.0"):
        ok = plan_mod.plan_checkpointing(request(subset=True, division="open", model="llama3-70b",
                                                 engine={"generation": generation, "version": "2.0.0"}))
        assert ok["errors"] == [] and "++workload.checkpoint.mode=subset" in ok["commands"]["run"]["argv"]


def test_subset_keys_are_the_plans_not_mlperf_params():
    plan = plan_mod.plan_checkpointing(request(division="open", model="llama3-70b",
                                               params={"checkpoint.mode": "subset", "model.parallelism.data": 8}))
    assert [e["variable"] for e in plan["errors"]] == ["mlperf_params", "mlperf_params"]
    assert "checkpoint.mode is set by the plan" in plan["errors"][0]["message"]
    assert "set checkpointing_subset: true" in plan["errors"][0]["fix"]


def test_the_subset_form_is_the_editions():
    spec = {"closed_processes": 64, "tp_pp": 8}
    v2 = plan_mod.subset_form(load_edition("2.0").section("checkpointing"), spec, "llama3-70b", 8, "closed")
    assert v2 == {"declared": True, "data_parallelism": 8, "problem": None}  # v2.0 CLOSED ran the larger models so
    v3 = plan_mod.subset_form(load_edition("3.0").section("checkpointing"), spec, "llama3-70b", 8, "closed")
    assert v3["declared"] is False and "rules 4.3.5" in v3["problem"][0]
    assert plan_mod.subset_form({}, spec, "llama3-70b", 8, "open")["problem"] == (
        "the edition defines no checkpointing subset mode", "set checkpointing_subset: false")
