# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Load and search as separate steps (vectordb_steps), for real with milvus-lite and 2,000 vectors.

playbooks/run_vectordb.yml with [load] only loads (one datagen directory, no run); a second play with [search] into
the same results tree searches the collection the first left in the embedded server's data (no second datagen, no
drop); a [search] play whose settings differ from the load's, or whose collection does not exist, stops before a
run directory is made and leaves the collection as it was. Against a live server, a collection mlperf.storage did
not create is never searched, changed or dropped by a search alone.
"""
import json
import os

import pytest

from test_vectordb import (dirs_for, extravars_for, failed_tasks, free_port, listening, run_playbook,  # noqa: F401
                           shm_base)
from test_vectordb_ownership import client, helper, milvus  # noqa: F401  (milvus: the live-server fixture)

pytest.importorskip("ansible_runner")

pytestmark = pytest.mark.integration

SMALL = {"vectordb_num_vectors": 2000, "vectordb_chunk_size": 1000, "vectordb_queries": 200,
         "vectordb_num_query_vectors": 50, "vectordb_runs": 1, "mlperf_allow_invalid": True}


def leaves(model_dir, command):
    folder = model_dir / command
    return sorted(p for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []


def test_load_alone_then_search_alone_then_refusals(tmp_path, shm_base):  # noqa: F811
    dirs = dirs_for(tmp_path, shm_base, "steps")
    port = free_port()
    model_dir = dirs["results"] / "open" / "embedded" / "results" / "localhost" / "vector_database" / "milvus" / "HNSW"

    # the load alone verifies as its own run directory (OPEN: milvus-lite), not as a result missing its runs
    result, out = run_playbook(tmp_path, extravars_for(dirs, port, vectordb_steps=["load"], **dict(
        SMALL, mlperf_allow_invalid=False)), "load")
    assert result.rc == 0, out[-5000:]
    assert "steps: load" in out and "is new on this database" in out
    assert '"verdict: OPEN"' in out and "run(s) found" not in out
    [datagen] = leaves(model_dir, "datagen")
    assert leaves(model_dir, "run") == []
    assert json.loads((datagen / "summary.json").read_text())["inserted_vectors"] == 2000
    assert not listening(port)

    result, out = run_playbook(tmp_path, extravars_for(dirs, port, vectordb_steps=["search"], **SMALL), "search")
    assert result.rc == 0, out[-5000:]
    assert "Searching collection mlps_2k_1shards_128dim_uniform (2000 vectors)" in out
    assert "Dropped collection" not in out
    assert leaves(model_dir, "datagen") == [datagen]  # not reloaded
    [run] = leaves(model_dir, "run")
    summary = json.loads((run / "summary.json").read_text())
    assert summary["query_count"] >= 200 and summary["num_vectors"] == 2000
    recall = json.loads((run / "recall_stats.json").read_text())
    assert recall["mean_recall"] > 0.5  # the ground truth regenerated from the recorded settings fits the data
    assert json.loads((run / "result_verdict.json").read_text())["flat_setup"]["ok"] is True

    # other settings than the load's: refused before a run directory, the collection untouched
    result, out = run_playbook(tmp_path, extravars_for(dirs, port, vectordb_steps=["search"], **dict(
        SMALL, vectordb_seed=7)), "other-seed")
    assert result.rc != 0
    failures = failed_tasks(result)
    assert len(failures) == 1, [f["event_data"]["task"] for f in failures]
    msg = failures[0]["event_data"]["res"]["msg"]
    assert msg.startswith("collection mlps_2k_1shards_128dim_uniform on the Milvus at http://127.0.0.1:%d was "
                          "loaded with other settings (seed 42, not 7)" % port), msg
    assert leaves(model_dir, "run") == [run] and leaves(model_dir, "datagen") == [datagen]
    assert not listening(port)

    # a collection nobody loaded: nothing to search
    result, out = run_playbook(tmp_path, extravars_for(dirs, port, vectordb_steps=["search"], **dict(
        SMALL, vectordb_collection="never_loaded")), "missing")
    assert result.rc != 0
    msg = failed_tasks(result)[0]["event_data"]["res"]["msg"]
    assert "collection never_loaded does not exist" in msg and "vectordb_steps: [load]" in msg
    assert leaves(model_dir, "run") == [run]

    # and the search before still finds every vector: no step of the refused plays dropped or reloaded anything
    result, out = run_playbook(tmp_path, extravars_for(dirs, port, vectordb_steps=["search"], **SMALL), "again")
    assert result.rc == 0, out[-5000:]
    assert len(leaves(model_dir, "run")) == 2 and leaves(model_dir, "datagen") == [datagen]


def test_a_search_alone_never_touches_a_collection_it_did_not_load(milvus):  # noqa: F811
    helper(milvus, "foreign", "team_vectors")
    record = json.dumps({"num_vectors": 7, "dimension": 4})
    proc = client(milvus, "check-collection", "--collection", "team_vectors", "--expect", record)
    assert proc.returncode == 5, proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert "team_vectors on the Milvus at http://127.0.0.1:%d was not loaded by mlperf.storage" % milvus["port"] in last
    assert "Traceback" not in proc.stderr
    after = helper(milvus, "show", "team_vectors")
    assert after["rows"] == 7 and after["properties"] == {}

    # a load with its record is searchable with the same record, and only with it
    out = str(milvus["base"] / "out-recorded")
    record = json.dumps({"num_vectors": 200, "dimension": 8, "seed": 42})
    load = client(milvus, "load", "--collection", "recorded", "--dimension", "8", "--num-vectors", "200",
                  "--chunk-size", "100", "--batch-size", "100", "--index-type", "HNSW", "--output-dir", out,
                  "--record", record)
    assert load.returncode == 0, load.stderr
    ok = client(milvus, "check-collection", "--collection", "recorded", "--expect", record)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout.strip().splitlines()[-1]) == {
        "uri": "http://127.0.0.1:%d" % milvus["port"], "collection": "recorded", "action": "search", "rows": 200}
    other = client(milvus, "check-collection", "--collection", "recorded", "--expect",
                   json.dumps({"num_vectors": 200, "dimension": 8, "seed": 1}))
    assert other.returncode == 5 and "seed 42, not 1" in other.stderr
    assert helper(milvus, "show", "recorded")["rows"] == 200
    assert os.path.isdir(out)
