# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Everything an edition decides is in its editions/<edition>.yaml: the accessors the planner and the verifier
share, and the guarantee that no edition name is written anywhere else in the collection's Python code."""
import ast
import os
import re

import pytest

from ansible_collections.mlperf.storage.plugins.plugin_utils import _workloads as wl
from ansible_collections.mlperf.storage.plugins.plugin_utils.rules.edition import (
    DEFAULT_EDITION, available_editions, load_edition)

from _rules_helpers import REPO


# --- training ------------------------------------------------------------------------------------------------------
def test_divisions_of_the_pairs_give_the_models_and_accelerators():
    v3 = load_edition("3.0")
    assert v3.training_models("closed") == ["unet3d", "retinanet"]
    assert v3.training_accelerators("closed") == ["b200", "mi355"]
    assert set(v3.training_accelerators("whatif")) == {"a100", "b200", "h100", "mi355"}
    assert v3.pair_divisions("unet3d", "a100") == ["whatif"]
    assert v3.pair_divisions("unet3d", "mi355") is None
    v2 = load_edition("2.0")
    # 2.0 had no whatif division: its lists are the closed ones
    assert v2.training_models("whatif") == v2.training_models("closed") == ["unet3d", "resnet50", "cosmoflow"]
    assert v2.by_division("training", "accelerators", "open") == ["h100", "a100"]


@pytest.mark.parametrize("edition", available_editions())
def test_reference_values_are_the_workload_files(edition):
    ed = load_edition(edition)
    for model, by_accel in ed.training_pairs().items():
        for accel in by_accel:
            workload = wl.load_workload(model, accel, edition)
            ref = ed.training_workload(model, accel)
            assert ref == {"framework": workload["framework"], "data_loader": workload["reader"]["data_loader"],
                           "format": workload["dataset"]["format"],
                           "num_samples_per_file": workload["dataset"]["num_samples_per_file"],
                           "record_length_bytes": workload["dataset"]["record_length_bytes"],
                           "batch_size": workload["reader"]["batch_size"], "epochs": workload["train"]["epochs"],
                           "computation_time": workload["train"]["computation_time"],
                           "au": workload["metric"]["au"]}, (model, accel)
            assert ref["au"] == ed.au_threshold(model)
    assert ed.training_workload("unet3d", "tpu") is None


def test_reference_values_are_copies():
    ed = load_edition("3.0")
    ed.training_workload("unet3d", "b200")["batch_size"] = 1
    assert ed.training_workload("unet3d", "b200")["batch_size"] == 7


def test_datasize_facts():
    v3, v2 = load_edition("3.0"), load_edition("2.0")
    assert (v3.datasize_rounding(), v3.accepted_datasize_rounding()) == ("ceil", "floor")
    assert (v2.datasize_rounding(), v2.accepted_datasize_rounding()) == ("floor", "floor")
    assert (v3.steps_per_epoch(), v3.memory_multiplier()) == (500, 5)


@pytest.mark.parametrize("edition", available_editions())
def test_planner_and_verifier_classify_overrides_alike(edition):
    ed = load_edition(edition)
    classes = ed.override_classes()
    keys = set(classes["closed"]) | set(classes["open"]) | set(classes["tool_injected"])
    keys |= {"workflow.checkpoint", "workflow", "train.epochs", "reader.read_thread", "dataset.skip_listing"}
    planned = {entry["key"]: entry["class"] for entry in wl.classify_overrides({k: 1 for k in keys}, edition, "open")}
    for key in keys:
        assert planned[key] == (ed.classify_override(key) or wl.INVALID), key
    assert ed.classify_override("workflow") is None  # only dotted workflow.* keys are chosen per command


# --- KV cache and vector database ----------------------------------------------------------------------------------
def test_kv_cache_facts():
    ed = load_edition("3.0")
    table = ed.kv_cache_options()
    assert sorted(table) == ["1", "2", "3"]
    assert (table["3"]["model"], table["3"]["num_users"], table["3"]["max_concurrent_allocs"]) == (
        "llama3.1-70b-instruct", 70, 4)
    tunable = ed.kv_cache_open_overrides()
    assert "max_concurrent_allocs" not in tunable
    # every other value of the table is a per-option setting an OPEN run may supersede
    assert set(tunable) == set(table["1"]) - {"name", "max_concurrent_allocs"}
    assert ed.kv_cache_generation_modes() == ("none", "fast", "realistic")
    assert ed.kv_cache_default_model() in ed.kv_cache_models()
    assert ed.kv_cache_model_footprint("llama3.1-8b") == (4096, 8192)
    assert ed.kv_cache_model_footprint("tiny-1b") == (768, 2048)
    assert ed.kv_cache_model_footprint("unknown-model") == (4096, 4096)


def test_kv_cache_program_features():
    ed = load_edition("3.0")
    features = ed.kv_cache_open_features()
    # the upstream `open kvcache run` flags, in the order its recorded commands pass them on
    assert [(n, f["flag"], f["kind"]) for n, f in features.items()] == [
        ("disable_multi_turn", "--disable-multi-turn", "switch"),
        ("disable_prefix_caching", "--disable-prefix-caching", "switch"),
        ("enable_rag", "--enable-rag", "switch"), ("rag_num_docs", "--rag-num-docs", "count"),
        ("enable_autoscaling", "--enable-autoscaling", "switch"), ("autoscaler_mode", "--autoscaler-mode", "choice"),
        ("performance_profile", "--performance-profile", "choice"),
        ("enable_latency_tracing", "--enable-latency-tracing", "switch")]
    assert features["performance_profile"]["choices"] == ["latency", "throughput"]
    assert features["autoscaler_mode"]["choices"] == ["qos", "capacity"]  # what kv-cache.py accepts
    assert features["rag_num_docs"]["requires"] == "enable_rag"
    assert features["autoscaler_mode"]["requires"] == "enable_autoscaling"
    assert "enable_autoscaling" in ed.kv_cache_closed_forbidden()  # rules 6.3.2.2
    features["enable_rag"]["flag"] = "--changed"
    assert ed.kv_cache_open_features()["enable_rag"]["flag"] == "--enable-rag"


def test_an_edition_without_kv_cache_has_none_of_its_facts():
    ed = load_edition("2.0")
    assert not ed.has_benchmark("kv_cache")
    assert ed.kv_cache_open_features() == {} and ed.kv_cache_closed_forbidden() == ()
    assert ed.kv_cache_options() == {} and ed.kv_cache_open_overrides() == ()
    assert ed.kv_cache_model_footprint("llama3.1-8b") is None and ed.kv_cache_default_model() is None


def test_vector_index_defaults():
    ed = load_edition("3.0")
    assert ed.vector_index_defaults("DISKANN") == {"max_degree": 64, "search_list_size": 200}
    assert ed.vector_index_defaults("HNSW") == {"M": 64, "efConstruction": 200}
    assert ed.vector_index_defaults("AISAQ")["inline_pq"] == 16
    assert ed.vector_index_defaults("NO_SUCH_INDEX") == {}
    ed.vector_index_defaults("DISKANN")["max_degree"] = 1
    assert ed.vector_index_defaults("DISKANN")["max_degree"] == 64
    # the build parameters CLOSED may tune are the ones a reference configuration sets
    tunable = ed.section("vector_database")["index_build_params"]
    for index in ed.by_division("vector_database", "index_types", "closed"):
        assert set(ed.vector_index_defaults(index)) <= set(tunable[index]), index


# --- one place for edition names -----------------------------------------------------------------------------------
def _edition_literals(path):
    """String constants that look like an edition name ("3.0", "v2.0"), docstrings left out."""
    with open(path, encoding="utf-8") as fh:
        tree = ast.parse(fh.read())
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                docstrings.add(id(first.value))
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
            and re.fullmatch(r"[vV]?\d+\.\d+", node.value)]


def test_no_edition_name_outside_the_editions_data():
    found = []
    for dirpath, _, files in os.walk(os.path.join(REPO, "plugins")):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(dirpath, name)
                found.extend((os.path.relpath(path, REPO), line, value) for line, value in _edition_literals(path))
    assert found == [("plugins/plugin_utils/rules/edition.py", _default_line(), DEFAULT_EDITION)]


def _default_line():
    with open(os.path.join(REPO, "plugins", "plugin_utils", "rules", "edition.py"), encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if line.startswith("DEFAULT_EDITION = "):
                return number
    raise AssertionError("rules/edition.py defines no DEFAULT_EDITION")
