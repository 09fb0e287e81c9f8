# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The results layout has one owner (rules/layout.py): every plan's paths parse back to what was planned."""
import pytest

import test_checkpointing_plan
import test_kvcache_plan
import test_training_plan
import test_vectordb_plan
from ansible_collections.mlperf.storage.plugins.plugin_utils._checkpointing_plan import plan_checkpointing
from ansible_collections.mlperf.storage.plugins.plugin_utils._kvcache_plan import plan_kvcache
from ansible_collections.mlperf.storage.plugins.plugin_utils._training_plan import plan_training
from ansible_collections.mlperf.storage.plugins.plugin_utils.rules import layout

STAMP = "20261204_183000"


def _plans():
    kv_req = test_kvcache_plan.request()
    kv_req["paths"]["controller_results_dir"] = "/ctl/results"
    return [
        ("training", plan_training(test_training_plan.make_req(allow_invalid=True)), ("run", "datagen", "datasize")),
        ("checkpointing", plan_checkpointing(test_checkpointing_plan.request(division="open")), ("run",)),
        ("kv_cache", plan_kvcache(kv_req), ("run",)),
        ("vector_database", test_vectordb_plan.plan_of(), ("run", "datagen")),
    ]


@pytest.mark.parametrize("benchmark, plan, commands", _plans(), ids=lambda v: v if isinstance(v, str) else "")
def test_every_plan_path_parses_back_to_the_plan(benchmark, plan, commands):
    assert plan["errors"] == []
    req_paths = plan["paths"]
    for command in commands:
        info = layout.parse(req_paths["%s_base" % command] + "/" + STAMP)
        assert info["benchmark"] == benchmark and info["command"] == command and info["run_datetime"] == STAMP
        assert info["division"] == plan["division"]
        meta = plan["metadata_base"]
        assert (info["org"], info["system"]) == (meta["args"]["orgname"], meta["args"]["systemname"])
        assert info["model"] == plan["model"]
    # the controller's copy is the same folder under the controller's root
    controller, results = (layout.parse(req_paths[key]) for key in ("controller_model_base", "model_base"))
    assert controller.pop("root_parts") != results.pop("root_parts") or benchmark != "kv_cache"
    assert controller == results and controller["model"] == plan["model"]


def test_controller_tree_is_used_when_given():
    kv_req = test_kvcache_plan.request()
    kv_req["paths"]["controller_results_dir"] = "/ctl/results"
    plan = plan_kvcache(kv_req)
    assert plan["paths"]["controller_model_base"].startswith("/ctl/results/")
    assert plan["paths"]["model_base"].startswith(kv_req["paths"]["results_dir"].rstrip("/") + "/")


@pytest.mark.parametrize("benchmark, model, command, tail", [
    ("training", "unet3d", "datasize", "training/unet3d/datasize"),
    ("checkpointing", "llama3-8b", "run", "checkpointing/llama3-8b"),
    ("kv_cache", "llama3.1-8b", "run", "kv_cache/llama3.1-8b/run"),
    ("vector_database", "milvus/DISKANN", "datagen", "vector_database/milvus/DISKANN/datagen"),
])
def test_build_and_parse_are_inverse(benchmark, model, command, tail):
    base = layout.model_base("/r/", "closed", "org", "sys", benchmark, model)
    leaf = layout.command_base(base, benchmark, command) + "/" + STAMP
    assert leaf == "/r/closed/org/results/sys/%s/%s" % (tail, STAMP)
    info = layout.parse(leaf)
    assert info["root_parts"] == ["r"] and info["command"] == command
    assert info["model"] == model.replace("/", "_")


@pytest.mark.parametrize("benchmark, model, command", [
    ("training", "unet3d", "sweep"), ("checkpointing", "llama3-8b", "datagen"), ("vector_database", "HNSW", "run"),
    ("training", "../x", "run"), ("nosuch", "m", "run")])
def test_paths_outside_the_layout_are_refused(benchmark, model, command):
    with pytest.raises(ValueError):
        layout.command_base(layout.model_base("/r", "closed", "o", "s", benchmark, model), benchmark, command)
