# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""KV cache per-option values (Rules 6.3.1.1, Table KVCache-1, 6.3.2.1, 6.6.1, 6.6.2), judged on the published runs'
own per-option commands: the published runs verify as published, and a copy with one option's value changed gets
the decided verdict with the exact issue. Copies are made in temporary directories; the corpus is never edited."""
import os
import re

import pytest

from ansible_collections.mlperf.storage.plugins.plugin_utils.rules import verify_run_dir, verify_tree

from _rules_helpers import FARMGPU_K, NEWFW_K, copy_corpus, edit_metadata, load_json, metadata_path, submission

RULES = ("6.3.1.1", "6.3.2.1")


def _findings(run):
    """(validation, rule, parameter, expected, actual) of the per-option and sequence findings that are not passes."""
    return sorted((i["validation"], i["rule_id"], i["parameter"], i["expected"], i["actual"]) for i in run["issues"]
                  if i["rule_id"] in RULES and (i["validation"] != "CLOSED" or i["severity"] != "info"))


def _edit_commands(run_dir, option, trial, func):
    """Apply func to the recorded command of option/trial (all trials when trial is None) in the metadata."""
    hits = []

    def edit(meta):
        for entry in meta["command_output_files"]:
            m = re.search(r"/option_(\d+)/trial_(\d+) ", entry["command"])
            if m and m.group(1) == str(option) and (trial is None or m.group(2) == str(trial)):
                hits.append(entry)
        for entry in hits:
            entry["command"] = func(entry["command"])
    edit_metadata(run_dir, edit)
    assert hits, (option, trial)


def _set_flag(flag, value):
    return lambda cmd: re.sub(r"%s \S+" % re.escape(flag), "%s %s" % (flag, value), cmd)


@pytest.fixture
def newfw(tmp_path):
    root = copy_corpus(tmp_path, NEWFW_K)
    return os.path.join(root, NEWFW_K)


def test_published_closed_run_is_closed_with_every_option_confirmed(newfw):
    run = verify_run_dir(newfw)
    assert run["verdict"] == "CLOSED"
    ok = [i for i in run["issues"] if i["rule_id"] == "6.3.1.1"]
    assert [(i["validation"], i["message"]) for i in ok] == [
        ("CLOSED", "options 1, 2, 3 ran the Table KVCache-1 values")]


def test_published_commands_are_the_ones_judged():
    """The published metadata records one wrapper command per option and trial (3 x 3), each with its own values."""
    from ansible_collections.mlperf.storage.plugins.plugin_utils.rules.checks.kv_cache import option_invocations
    from ansible_collections.mlperf.storage.plugins.plugin_utils.rules.loader import load_run
    from _rules_helpers import CORPUS, require_corpus
    require_corpus()
    run = load_run(os.path.join(CORPUS, NEWFW_K))
    got = option_invocations(run)
    assert sorted(got) == ["1", "2", "3"] and all(sorted(got[o]) == [0, 1, 2] for o in got)
    assert [got[o][0]["--num-users"] for o in ("1", "2", "3")] == ["200", "100", "70"]
    assert [got[o][2]["--max-concurrent-allocs"] for o in ("1", "2", "3")] == ["16", "16", "4"]
    assert got["3"][1]["--model"] == "llama3.1-70b-instruct" and got["2"][0]["--cpu-mem-gb"] == "4"


# (option, flag, new value, table key, table value, recorded value, verdict)
MUTATIONS = [
    ("1", "--num-users", "100", "num_users", 200, "100", "OPEN"),
    ("1", "--duration", "60", "duration", 300, "60", "OPEN"),
    ("2", "--cpu-mem-gb", "32", "cpu_mem_gb", 4, "32", "OPEN"),
    ("3", "--gpu-mem-gb", "16", "gpu_mem_gb", 0, "16", "OPEN"),
    ("1", "--generation-mode", "realistic", "generation_mode", "none", "realistic", "OPEN"),
    ("3", "--model", "llama3.1-8b", "model", "llama3.1-70b-instruct", "llama3.1-8b", "OPEN"),
    ("2", "--max-concurrent-allocs", "32", "max_concurrent_allocs", 16, "32", "INVALID"),
    ("3", "--max-concurrent-allocs", "16", "max_concurrent_allocs", 4, "16", "INVALID"),
]


@pytest.mark.parametrize("option,flag,value,key,expected,actual,verdict", MUTATIONS,
                         ids=["opt%s%s" % (m[0], m[1]) for m in MUTATIONS])
def test_one_option_value_changed_in_one_trial(newfw, option, flag, value, key, expected, actual, verdict):
    _edit_commands(newfw, option, 1, _set_flag(flag, value))
    run = verify_run_dir(newfw)
    assert run["verdict"] == verdict
    assert _findings(run) == [(verdict, "6.3.1.1", "options.%s.%s" % (option, key), expected, actual)]
    issue = [i for i in run["issues"] if i["parameter"] == "options.%s.%s" % (option, key)][0]
    assert ("option %s" % option) in issue["message"] and "trial 1 ran %s=%s" % (flag[2:], value) in issue["message"]


def test_a_missing_value_flag_is_judged_as_a_changed_value(newfw):
    _edit_commands(newfw, 2, None, lambda cmd: re.sub(r" --generation-mode \S+", "", cmd))
    run = verify_run_dir(newfw)
    assert run["verdict"] == "OPEN"
    assert _findings(run) == [("OPEN", "6.3.1.1", "options.2.generation_mode", "none", None)]


def test_option_seed_other_than_the_lock_is_invalid(newfw):
    _edit_commands(newfw, 3, 2, _set_flag("--seed-base", "43"))
    run = verify_run_dir(newfw)
    assert run["verdict"] == "INVALID"
    assert _findings(run) == [("INVALID", "6.3.2.1", "options.3.seed", 42, "43")]


def test_option_with_a_trial_command_missing_is_invalid(newfw):
    def drop(meta):
        meta["command_output_files"] = [e for e in meta["command_output_files"]
                                        if "/option_2/trial_2 " not in e["command"]]
    edit_metadata(newfw, drop)
    run = verify_run_dir(newfw)
    assert run["verdict"] == "INVALID"
    assert _findings(run) == [("INVALID", "6.3.2.1", "options.2.trials", 3, 2)]


def test_option_with_no_command_recorded_is_invalid(newfw):
    def drop(meta):
        meta["command_output_files"] = [e for e in meta["command_output_files"] if "/option_3/" not in e["command"]]
    edit_metadata(newfw, drop)
    run = verify_run_dir(newfw)
    assert run["verdict"] == "INVALID"
    assert _findings(run) == [("INVALID", "6.3.1.1", "options.3", None, None)]


def test_no_per_option_commands_at_all_is_a_warning_only(newfw):
    edit_metadata(newfw, lambda meta: meta.__setitem__("command_output_files", []))
    run = verify_run_dir(newfw)
    assert run["verdict"] == "CLOSED"
    assert _findings(run) == [("CLOSED", "6.3.1.1", "options", None, None)]


def test_the_collection_invocation_record_is_read_first(newfw):
    """Our own metadata records kvcache_invocations {option, trial, command}; it is preferred when present."""
    def ours(meta):
        meta["kvcache_invocations"] = [{"option": "1", "trial": t, "command": e["command"].replace(
            "--num-users 200", "--num-users 150")} for t, e in enumerate(meta["command_output_files"][:3])]
        meta["kvcache_invocations"] += [{"option": o, "trial": t, "command": e["command"]}
                                        for o, es in (("2", meta["command_output_files"][3:6]),
                                                      ("3", meta["command_output_files"][6:9]))
                                        for t, e in enumerate(es)]
    edit_metadata(newfw, ours)
    run = verify_run_dir(newfw)
    assert run["verdict"] == "OPEN"
    assert _findings(run) == [("OPEN", "6.3.1.1", "options.1.num_users", 200, "150")]


def test_published_open_run_keeps_its_verdict_and_its_changes_are_allowed(tmp_path):
    root = copy_corpus(tmp_path, FARMGPU_K)
    run_dir = os.path.join(root, FARMGPU_K)
    run = verify_run_dir(run_dir)
    assert run["verdict"] == "INVALID"  # published: partial_failure (6.3.4), not the options
    assert _findings(run) == []
    changed = sorted(i["parameter"] for i in run["issues"] if i["rule_id"] == "6.3.1.1")
    assert "options.2.num_users" in changed and "options.1.model" in changed
    assert all(i["validation"] == "CLOSED" and "(OPEN allows it)" in i["message"]
               for i in run["issues"] if i["rule_id"] == "6.3.1.1")


def test_open_run_with_a_changed_allocation_bound_is_invalid(tmp_path):
    root = copy_corpus(tmp_path, FARMGPU_K)
    run_dir = os.path.join(root, FARMGPU_K)
    _edit_commands(run_dir, 3, 0, _set_flag("--max-concurrent-allocs", "16"))
    run = verify_run_dir(run_dir)
    assert _findings(run) == [("INVALID", "6.3.1.1", "options.3.max_concurrent_allocs", 4, "16")]


def test_result_verdict_follows_the_option_change(tmp_path):
    root = copy_corpus(tmp_path, NEWFW_K)
    _edit_commands(os.path.join(root, NEWFW_K), 1, 0, _set_flag("--num-users", "100"))
    assert submission(verify_tree(root).to_dict(), "kv_cache")["verdict"] == "OPEN"
    assert load_json(metadata_path(os.path.join(root, NEWFW_K)))["verification"] is None  # the copy, as published


# --- program features (upstream `open kvcache run` flags; edition open_features) in a recorded command -------------
FEATURE_RULES = ("6.3.2.2", "6.6.1", "6.6.2")


def _feature_findings(run):
    """(validation, rule, parameter, actual) of the program-feature findings."""
    return sorted((i["validation"], i["rule_id"], i["parameter"], i["actual"]) for i in run["issues"]
                  if i["rule_id"] in FEATURE_RULES)


def _append(text):
    return lambda cmd: cmd + " " + text


# (flag as recorded, feature, value the parser reads, CLOSED verdict, rule)
FEATURES = [
    ("--performance-profile throughput", "performance_profile", "throughput", "OPEN", "6.6.1"),
    ("--disable-multi-turn", "disable_multi_turn", True, "OPEN", "6.6.1"),
    ("--disable-prefix-caching", "disable_prefix_caching", True, "OPEN", "6.6.1"),
    ("--enable-rag", "enable_rag", True, "OPEN", "6.6.1"),
    ("--rag-num-docs 5", "rag_num_docs", "5", "OPEN", "6.6.1"),
    ("--autoscaler-mode qos", "autoscaler_mode", "qos", "OPEN", "6.6.1"),
    ("--enable-latency-tracing", "enable_latency_tracing", True, "OPEN", "6.6.1"),
    ("--enable-autoscaling", "enable_autoscaling", True, "INVALID", "6.3.2.2"),
]


@pytest.mark.parametrize("text,key,actual,verdict,rule", FEATURES, ids=[f[1] for f in FEATURES])
def test_closed_run_whose_command_carries_a_program_feature_is_not_closed(newfw, text, key, actual, verdict, rule):
    _edit_commands(newfw, 2, 1, _append(text))
    run = verify_run_dir(newfw)
    assert run["verdict"] == verdict
    assert _feature_findings(run) == [(verdict, rule, "options.2.%s" % key, actual)]
    assert _findings(run) == []  # the Table KVCache-1 values and the sequence locks are as published
    issue = [i for i in run["issues"] if i["parameter"] == "options.2.%s" % key][0]
    assert issue["message"].startswith("option 2 trial 1 ran %s; CLOSED " % text)


def test_closed_run_with_features_in_every_trial_says_each_once_per_option(newfw):
    _edit_commands(newfw, 1, None, _append("--enable-rag --rag-num-docs 5"))
    run = verify_run_dir(newfw)
    assert run["verdict"] == "OPEN"
    assert _feature_findings(run) == [("OPEN", "6.6.1", "options.1.enable_rag", True),
                                      ("OPEN", "6.6.1", "options.1.rag_num_docs", "5")]


def test_published_open_run_passes_program_features_and_open_may(tmp_path):
    """FarmGPU's OPEN commands end --rag-num-docs 10 --autoscaler-mode qos --performance-profile throughput."""
    root = copy_corpus(tmp_path, FARMGPU_K)
    run_dir = os.path.join(root, FARMGPU_K)
    run = verify_run_dir(run_dir)
    assert _feature_findings(run) == sorted(
        ("CLOSED", "6.6.2", "options.%s.%s" % (o, k), v) for o in "123"
        for k, v in (("rag_num_docs", "10"), ("autoscaler_mode", "qos"), ("performance_profile", "throughput")))
    assert all("(OPEN allows it)" in i["message"] for i in run["issues"] if i["rule_id"] == "6.6.2")
    # switched on too (autoscaling included, which only CLOSED forbids): still allowed, the verdict is as published
    _edit_commands(run_dir, 3, 0, _append("--enable-rag --enable-autoscaling --enable-latency-tracing"))
    run = verify_run_dir(run_dir)
    assert run["verdict"] == "INVALID" and _findings(run) == []  # published: partial_failure (6.3.4) only
    judged = {p: v for v, r, p, a in _feature_findings(run) if p.startswith("options.3.")}
    assert judged == {"options.3.%s" % k: "CLOSED" for k in (
        "rag_num_docs", "autoscaler_mode", "performance_profile", "enable_rag", "enable_autoscaling",
        "enable_latency_tracing")}


@pytest.mark.parametrize("old,new,why", [
    ("--autoscaler-mode qos", "--autoscaler-mode predictive", "one of qos, capacity"),
    ("--rag-num-docs 10", "--rag-num-docs 0", "a whole number of at least 1"),
    ("--performance-profile throughput", "--performance-profile fast", "one of latency, throughput"),
])
def test_a_feature_value_the_program_refuses_is_invalid_in_open(tmp_path, old, new, why):
    root = copy_corpus(tmp_path, FARMGPU_K)
    run_dir = os.path.join(root, FARMGPU_K)
    _edit_commands(run_dir, 1, 0, lambda cmd: cmd.replace(old, new))
    run = verify_run_dir(run_dir)
    bad = [i for i in run["issues"] if i["rule_id"] == "6.6.2" and i["validation"] == "INVALID"]
    assert [(i["parameter"], i["actual"]) for i in bad] == [("options.1.%s" % old.split()[0][2:].replace("-", "_"),
                                                             new.split()[1])]
    assert "which the kv-cache program does not accept (%s)" % why in bad[0]["message"]
