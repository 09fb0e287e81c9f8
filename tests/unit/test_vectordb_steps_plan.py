# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""vectordb_steps: load and search as separate steps. The plan checks the steps and records the load settings the
load writes on the collection; the client searches alone only a collection mlperf.storage loaded with those
settings, and says why not otherwise (missing, foreign, loaded otherwise, short of vectors)."""
import importlib.util
import json
import os

import pytest

from _testpaths import REPO
from test_vectordb_plan import option, plan_of, variables

spec = importlib.util.spec_from_file_location(
    "mlperf_vdb_client", os.path.join(REPO, "roles", "vectordb", "files", "mlperf_vdb_client.py"))
client = importlib.util.module_from_spec(spec)
spec.loader.exec_module(client)

URI = "http://127.0.0.1:19530"


def test_both_steps_by_default_and_either_alone():
    assert plan_of()["steps"] == ["load", "search"]
    assert plan_of(steps=["search"])["steps"] == ["search"]
    assert plan_of(steps=["load"])["steps"] == ["load"]
    assert plan_of(steps=["search", "load"])["steps"] == ["load", "search"]  # always load first


@pytest.mark.parametrize("steps", [[], ["serch"], ["load", "load"], "load", [{"load": 1}]])
def test_bad_steps_name_the_variable_and_the_choices(steps):
    plan = plan_of(steps=steps)
    assert variables(plan) == ["vectordb_steps"]
    assert "[search] (search the collection an earlier load left" in plan["errors"][0]["fix"]


def test_the_load_records_the_settings_a_search_alone_expects():
    plan = plan_of(index_params={"M": 32})
    record = json.loads(plan["collection_record"])
    assert record == {"num_vectors": 10000, "dimension": 128, "distribution": "uniform", "seed": 42,
                      "chunk_size": 10000, "num_shards": 1, "index_type": "HNSW", "metric_type": "COSINE",
                      "index_params": {"M": 32, "efConstruction": 200}}
    load = plan["commands"]["datagen"]["argv"]
    assert option(load, "--record") == plan["collection_record"]
    args = client.build_parser().parse_args(load[2:])
    assert json.loads(args.record) == record
    check = client.build_parser().parse_args(["check-collection", "--collection", "c", "--expect",
                                              plan["collection_record"]])
    assert check.expect == record and check.drop_existing is False
    # another seed is another collection for the ground truth
    assert json.loads(plan_of(seed=7)["collection_record"])["seed"] == 7


def ours(record, rows=10000):
    return {"properties": {client.OWNER_PROPERTY: client.OWNER_VALUE, client.RECORD_PROPERTY: record},
            "row_count": rows}


def test_a_search_alone_uses_only_our_collection_loaded_with_the_plans_settings():
    record = plan_of()["collection_record"]
    expected = json.loads(record)
    assert client.search_readiness(URI, "c", True, ours(record), expected, 10000) is None

    missing = client.search_readiness(URI, "c", False, {}, expected, 10000)
    assert missing.startswith("collection c does not exist on the Milvus at %s" % URI)
    assert "vectordb_steps: [load]" in missing

    foreign = client.search_readiness(URI, "c", True, {"properties": {}, "row_count": 7}, expected, 10000)
    assert "was not loaded by mlperf.storage" in foreign and "was not changed" in foreign

    unrecorded = client.search_readiness(URI, "c", True, {"properties": {client.OWNER_PROPERTY: client.OWNER_VALUE}},
                                         expected, 10000)
    assert "carries no record of the settings it was loaded with" in unrecorded

    other = json.loads(plan_of(seed=7, num_vectors=5000)["collection_record"])
    differ = client.search_readiness(URI, "c", True, ours(json.dumps(other)), expected, 10000)
    assert "was loaded with other settings (num_vectors 5000, not 10000, seed 7, not 42)" in differ

    short = client.search_readiness(URI, "c", True, ours(record, rows=9000), expected, 10000)
    assert "holds 9000 vectors, not 10000" in short
