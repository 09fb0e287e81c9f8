# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The KV-cache plan: the exact wrapper/MPI command of every option and trial, the CLOSED locks, OPEN overrides,
filesystem separation and the classification of the planned run."""
import json

import pytest

from ansible_collections.mlperf.storage.plugins.plugin_utils import _kvcache_plan as plan_mod
from ansible_collections.mlperf.storage.plugins.plugin_utils.rules import load_edition

GIB = 1024 ** 3


def request(**changes):
    req = {
        "edition": "3.0", "division": "closed",
        "clients": [{"host": "c1", "mpi_host": "c1", "memtotal_bytes": 64 * GIB, "cores": 32},
                    {"host": "c2", "mpi_host": "c2", "memtotal_bytes": 64 * GIB, "cores": 32}],
        "launcher": "c1", "processes_per_host": 2, "options": [], "seed": 42, "trials": 3, "inter_option_delay": 90,
        "overrides": {}, "config": None, "cache_dir": "/nvme/kv",
        "filesystems": {"same_filesystem": False, "cache_dir": "/nvme/kv", "results_dir": "/results"},
        "engine": {"name": "kv-cache", "generation": "kv-cache-v3.0", "version": "3.0.0", "source": "git+https://x",
                   "profile": "kvcache", "lock_hash": "a" * 64},
        "mpi": {"implementation": "openmpi", "mpirun": "/usr/bin/mpirun", "run_as_root": False, "extra_args": []},
        "paths": {"results_dir": "/results", "work_dir": "/work", "venv_bin": "/kv/bin",
                  "runner": "/work/mlperf_kvcache_runner.py", "spec": "/work/kvcache_spec.json"},
        "org": "org", "system": "sys", "allow_invalid": False,
    }
    req.update(changes)
    return req


def test_closed_sequence_has_nine_invocations_with_the_table_values():
    plan = plan_mod.plan_kvcache(request())
    assert plan["errors"] == [] and plan["classification"]["verdict"] == "CLOSED"
    steps = plan["runner_spec"]["steps"]
    assert [(s["option"], s["trial"]) for s in steps] == [(o, t) for o in "123" for t in range(3)]
    assert steps[0]["argv"] == [
        "/usr/bin/mpirun", "-np", "4", "-host", "c1:2,c2:2", "-x", "PATH", "-x", "MLPERF_STORAGE_RUN_ID",
        "--mca", "orte_abort_on_non_zero_status", "0",
        "/kv/bin/python", "/kv/bin/mlperf_wrapper.py",
        "--rank-output-base", "@RUN_DIR@/option_1/trial_0", "--rank-cache-base", "/nvme/kv", "--seed-base", "42",
        "--model", "llama3.1-8b", "--num-users", "200", "--duration", "300", "--gpu-mem-gb", "0",
        "--cpu-mem-gb", "0", "--max-concurrent-allocs", "16", "--generation-mode", "none",
    ]
    option2 = steps[4]["argv"]
    assert option2[option2.index("--rank-output-base") + 1] == "@RUN_DIR@/option_2/trial_1"
    assert option2[option2.index("--num-users") + 1] == "100" and option2[option2.index("--cpu-mem-gb") + 1] == "4"
    option3 = steps[8]["argv"]
    assert option3[option3.index("--model") + 1] == "llama3.1-70b-instruct"
    assert option3[option3.index("--max-concurrent-allocs") + 1] == "4"
    assert plan["runner_spec"]["inter_option_delay"] == 90 and plan["runner_spec"]["total_ranks"] == 4
    # one leaf, one engine process: the sequencer
    assert plan["commands"]["run"]["argv"] == ["/kv/bin/python", "/work/mlperf_kvcache_runner.py", "run", "--spec",
                                               "/work/kvcache_spec.json", "--run-dir", "@RUN_DIR@"]
    assert plan["paths"]["run_base"] == "/results/closed/org/results/sys/kv_cache/llama3.1-8b/run"
    assert plan["expected_seconds"] == 3 * 3 * 300 + 2 * 90
    json.dumps(plan)


def test_mpich_has_no_open_mpi_abort_flag():
    plan = plan_mod.plan_kvcache(request(mpi={"implementation": "mpich", "mpirun": None, "run_as_root": False,
                                              "extra_args": ["-bind-to", "none"]}))
    argv = plan["runner_spec"]["steps"][0]["argv"]
    assert argv[:5] == ["/kv/bin/mpirun", "-n", "4", "-hosts", "c1:2,c2:2"]
    assert "--mca" not in argv and argv[argv.index("-bind-to") + 1] == "none"


@pytest.mark.parametrize("key,value,variable,text", [
    ("seed", 7, "kvcache_seed", "CLOSED locks seed=42 but the run used 7"),
    ("trials", 1, "kvcache_trials", "CLOSED locks trials=3 but the run used 1"),
    ("inter_option_delay", 20, "kvcache_inter_option_delay", "CLOSED locks inter_option_delay=90 but the run used 20"),
])
def test_closed_sequence_locks_refuse_a_change(key, value, variable, text):
    plan = plan_mod.plan_kvcache(request(**{key: value}))
    assert [e["variable"] for e in plan["errors"]] == [variable]
    assert text in plan["errors"][0]["message"]
    assert "mlperf_division: open" in plan["errors"][0]["fix"]


def test_closed_custom_config_refused():
    plan = plan_mod.plan_kvcache(request(config="/etc/kv.yaml"))
    assert [e["variable"] for e in plan["errors"]] == ["kvcache_config"]
    assert "--config is forbidden in CLOSED" in plan["errors"][0]["message"]


def test_allow_invalid_runs_a_changed_seed_but_records_it():
    plan = plan_mod.plan_kvcache(request(seed=7, allow_invalid=True))
    assert plan["errors"] == [] and plan["classification"]["verdict"] == "INVALID"
    assert plan["metadata_base"]["args"]["seed"] == 7
    assert "--seed-base" in plan["runner_spec"]["steps"][0]["argv"]


def test_open_overrides_supersede_every_option_key_by_key():
    plan = plan_mod.plan_kvcache(request(division="open", seed=7, trials=1, inter_option_delay=5,
                                         overrides={"num_users": 20, "duration": 60}, options=["1", "3"],
                                         config="/etc/kv.yaml"))
    assert plan["errors"] == []
    steps = plan["runner_spec"]["steps"]
    assert [s["option"] for s in steps] == ["1", "3"]
    for step in steps:
        argv = step["argv"]
        assert argv[argv.index("--num-users") + 1] == "20" and argv[argv.index("--duration") + 1] == "60"
        assert argv[argv.index("--config") + 1] == "/etc/kv.yaml" and argv[argv.index("--seed-base") + 1] == "7"
    assert steps[1]["argv"][steps[1]["argv"].index("--max-concurrent-allocs") + 1] == "4"  # always the table's
    assert plan["metadata_base"]["override_parameters"] == {"num_users": 20, "duration": 60}


def test_open_overrides_in_closed_and_unknown_keys_are_errors():
    plan = plan_mod.plan_kvcache(request(overrides={"num_users": 20, "max_concurrent_allocs": 2}))
    messages = " | ".join(e["message"] for e in plan["errors"])
    assert "only model, num_users" in messages and "CLOSED runs the options of Table KVCache-1" in messages


def test_closed_requires_every_option():
    plan = plan_mod.plan_kvcache(request(options=["1"]))
    assert [e["variable"] for e in plan["errors"]] == ["kvcache_options"]


def test_bad_open_values_are_named():
    plan = plan_mod.plan_kvcache(request(division="open", overrides={"model": "gpt-5", "num_users": 0,
                                                                    "generation_mode": "slow"}))
    messages = " | ".join(e["message"] for e in plan["errors"])
    assert "model 'gpt-5' is not a KV-cache model" in messages
    assert "num_users is 0" in messages and "generation_mode 'slow'" in messages


def test_cache_and_results_on_one_filesystem():
    fs = {"same_filesystem": True, "cache_dir": "/data/kv", "results_dir": "/data/results", "cache_mount_point": "/data"}
    closed = plan_mod.plan_kvcache(request(filesystems=fs))
    assert [e["variable"] for e in closed["errors"]] == ["kvcache_cache_dir"]
    assert "same filesystem (/data)" in closed["errors"][0]["message"]
    opened = plan_mod.plan_kvcache(request(division="open", filesystems=fs))
    assert opened["errors"] == [] and any("same filesystem" in w for w in opened["warnings"])


def test_environment_must_be_the_kv_cache_lock():
    plan = plan_mod.plan_kvcache(request(engine={"name": "dlio", "profile": "embedded"}))
    assert [e["variable"] for e in plan["errors"]] == ["kvcache_env_dir"]
    assert "mlperf_env_profile=kvcache" in plan["errors"][0]["fix"]


def test_metadata_base_carries_the_locks_where_the_rules_read_them():
    meta = plan_mod.plan_kvcache(request())["metadata_base"]
    assert meta["benchmark_type"] == "kv_cache" and meta["model"] == "llama3.1-8b" and meta["num_processes"] == 4
    for key, value in (("seed", 42), ("trials", 3), ("inter_option_delay", 90)):
        assert meta["args"][key] == value and meta[key] == value
    assert meta["args"]["config"] is None and meta["args"]["enable_autoscaling"] is False
    assert meta["parameters"]["options"]["2"]["cpu_mem_gb"] == 4
    assert len(meta["kvcache_invocations"]) == 9
    assert "--rank-output-base @RUN_DIR@/option_3/trial_2" in meta["kvcache_invocations"][-1]["command"]


def test_cache_size_estimate():
    settings = {"model": "llama3.1-8b", "num_users": 200}
    assert plan_mod.cache_estimate(load_edition("3.0"), settings, 4) == 4096 * 8192 * 200 * 4


# --- program features of the upstream `open kvcache run` (edition open_features; role variables kvcache_<name>) ---
# what the role passes when no feature variable is set (its defaults)
UNSET_FEATURES = {"performance_profile": "", "disable_multi_turn": False, "disable_prefix_caching": False,
                  "enable_rag": False, "rag_num_docs": None, "enable_autoscaling": False, "autoscaler_mode": "",
                  "enable_latency_tracing": False}
ALL_FEATURES = dict(UNSET_FEATURES, performance_profile="throughput", disable_multi_turn=True,
                    disable_prefix_caching=True, enable_rag=True, rag_num_docs=20, enable_autoscaling=True,
                    autoscaler_mode="capacity", enable_latency_tracing=True)


def test_open_features_reach_every_wrapper_command_after_the_table_values_and_the_metadata():
    plan = plan_mod.plan_kvcache(request(division="open", features=ALL_FEATURES))
    assert plan["errors"] == []
    steps = plan["runner_spec"]["steps"]
    assert len(steps) == 9
    for step in steps:
        argv = step["argv"]
        assert argv[argv.index("--generation-mode"):] == [
            "--generation-mode", "none", "--disable-multi-turn", "--disable-prefix-caching", "--enable-rag",
            "--rag-num-docs", "20", "--enable-autoscaling", "--autoscaler-mode", "capacity",
            "--performance-profile", "throughput", "--enable-latency-tracing"]
    meta = plan["metadata_base"]
    for name, value in ALL_FEATURES.items():
        assert meta["args"][name] == value, name
    assert meta["parameters"]["features"] == ALL_FEATURES and plan["features"] == ALL_FEATURES
    assert "--enable-rag --rag-num-docs 20" in meta["kvcache_invocations"][4]["command"]
    # the verifier reads the planned commands: OPEN may use every feature
    assert plan["classification"]["verdict"] == "CLOSED"
    judged = {i["parameter"]: (i["rule_id"], i["validation"]) for i in plan["classification"]["issues"]
              if i["parameter"].startswith("options.2.")}
    assert judged["options.2.enable_autoscaling"] == ("6.6.2", "CLOSED")
    assert judged["options.2.rag_num_docs"] == ("6.6.2", "CLOSED")


def test_unset_features_pass_nothing_and_closed_plans_as_before():
    plain = plan_mod.plan_kvcache(request())
    plan = plan_mod.plan_kvcache(request(features=UNSET_FEATURES))
    assert plan["errors"] == [] and plan["classification"]["verdict"] == "CLOSED"
    assert [s["argv"] for s in plan["runner_spec"]["steps"]] == [s["argv"] for s in plain["runner_spec"]["steps"]]
    args = plan["metadata_base"]["args"]
    assert args["enable_rag"] is False and args["enable_autoscaling"] is False and args["rag_num_docs"] is None
    assert args["performance_profile"] is None and plan["features"] == {}


@pytest.mark.parametrize("features,variable,message", [
    ({"performance_profile": "latency"}, "kvcache_performance_profile",
     "CLOSED passes no program feature to the benchmark (rules 6.6.1); kvcache_performance_profile is 'latency' "
     "(--performance-profile)"),
    ({"disable_multi_turn": True}, "kvcache_disable_multi_turn", "kvcache_disable_multi_turn is True"),
    ({"disable_prefix_caching": True}, "kvcache_disable_prefix_caching", "(--disable-prefix-caching)"),
    ({"enable_rag": True}, "kvcache_enable_rag", "(--enable-rag)"),
    ({"enable_latency_tracing": "yes"}, "kvcache_enable_latency_tracing", "(--enable-latency-tracing)"),
    ({"enable_autoscaling": True}, "kvcache_enable_autoscaling",
     "CLOSED forbids --enable-autoscaling (rules 6.3.2.2); kvcache_enable_autoscaling is True"),
])
def test_closed_refuses_every_feature_before_anything_runs(features, variable, message):
    for allow_invalid in (False, True):
        plan = plan_mod.plan_kvcache(request(features=dict(UNSET_FEATURES, **features), allow_invalid=allow_invalid))
        assert [e["variable"] for e in plan["errors"]] == [variable]
        assert message in plan["errors"][0]["message"]
        assert plan["errors"][0]["fix"] == "remove %s, or set mlperf_division: open" % variable
        assert "runner_spec" not in plan


def test_closed_refuses_the_valued_features_with_their_switches():
    plan = plan_mod.plan_kvcache(request(features=dict(UNSET_FEATURES, enable_rag=True, rag_num_docs=5,
                                                       enable_autoscaling=True, autoscaler_mode="qos")))
    assert [e["variable"] for e in plan["errors"]] == [
        "kvcache_enable_rag", "kvcache_rag_num_docs", "kvcache_enable_autoscaling", "kvcache_autoscaler_mode"]
    assert "kvcache_rag_num_docs is 5 (--rag-num-docs)" in plan["errors"][1]["message"]


@pytest.mark.parametrize("features,variable,message,fix", [
    ({"performance_profile": "fast"}, "kvcache_performance_profile",
     "kvcache_performance_profile is 'fast'; it must be one of latency, throughput",
     "set kvcache_performance_profile to one of latency, throughput, or leave it empty (the program's default)"),
    ({"enable_autoscaling": True, "autoscaler_mode": "predictive"}, "kvcache_autoscaler_mode",
     "kvcache_autoscaler_mode is 'predictive'; it must be one of qos, capacity (predictive: the upstream launcher "
     "offers it, but the kv-cache program refuses it)", "set kvcache_autoscaler_mode to one of qos, capacity"),
    ({"enable_rag": True, "rag_num_docs": 0}, "kvcache_rag_num_docs",
     "kvcache_rag_num_docs is 0; it must be a whole number of at least 1",
     "set kvcache_rag_num_docs to a positive integer, or leave it unset (the program's default)"),
    ({"enable_rag": True, "rag_num_docs": "many"}, "kvcache_rag_num_docs",
     "kvcache_rag_num_docs is 'many'; it must be a whole number of at least 1", "a positive integer"),
    ({"enable_rag": True, "rag_num_docs": 2.5}, "kvcache_rag_num_docs", "kvcache_rag_num_docs is 2.5", "positive"),
    ({"rag_num_docs": 5}, "kvcache_rag_num_docs",
     "kvcache_rag_num_docs is 5 but kvcache_enable_rag is not true: the program uses --rag-num-docs only with "
     "--enable-rag", "set kvcache_enable_rag: true, or remove kvcache_rag_num_docs"),
    ({"autoscaler_mode": "qos"}, "kvcache_autoscaler_mode",
     "kvcache_autoscaler_mode is 'qos' but kvcache_enable_autoscaling is not true: the program uses "
     "--autoscaler-mode only with --enable-autoscaling",
     "set kvcache_enable_autoscaling: true, or remove kvcache_autoscaler_mode"),
    ({"enable_rag": "maybe"}, "kvcache_enable_rag", "kvcache_enable_rag is 'maybe'; it must be true or false",
     "set kvcache_enable_rag to true or false"),
    ({"use_burst_trace": True}, "features", "features has 'use_burst_trace'; the kv-cache program features are",
     "remove use_burst_trace"),
])
def test_bad_feature_values_are_structured_errors_before_anything_runs(features, variable, message, fix):
    plan = plan_mod.plan_kvcache(request(division="open", features=dict(UNSET_FEATURES, **features)))
    assert [e["variable"] for e in plan["errors"]] == [variable], plan["errors"]
    assert set(plan["errors"][0]) == {"variable", "message", "fix"}
    assert message in plan["errors"][0]["message"] and fix in plan["errors"][0]["fix"]
    assert "runner_spec" not in plan


def test_features_not_a_mapping_is_named():
    plan = plan_mod.plan_kvcache(request(division="open", features=["enable_rag"]))
    assert [e["variable"] for e in plan["errors"]] == ["features"]


def test_feature_values_as_extra_vars_give_them():
    """-e kvcache_enable_rag=yes -e kvcache_rag_num_docs=7: strings, read as Ansible reads them."""
    plan = plan_mod.plan_kvcache(request(division="open", features=dict(
        UNSET_FEATURES, enable_rag="yes", rag_num_docs="7", disable_multi_turn="false")))
    assert plan["errors"] == [] and plan["features"] == {"enable_rag": True, "rag_num_docs": 7}
    argv = plan["runner_spec"]["steps"][0]["argv"]
    assert argv[-3:] == ["--enable-rag", "--rag-num-docs", "7"] and "--disable-multi-turn" not in argv
