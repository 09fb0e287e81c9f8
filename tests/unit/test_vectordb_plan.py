# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The vector database plan: backends and indexes, command builders, settings errors, rules classification,
and that a leaf written in the plan's and the client's shapes is judged by the rules engine's vector-DB checks."""
import copy
import importlib.util
import json
import os

import pytest

from _testpaths import REPO
from ansible_collections.mlperf.storage.plugins.plugin_utils import _vectordb
from ansible_collections.mlperf.storage.plugins.plugin_utils._run_record import run_metadata
from ansible_collections.mlperf.storage.plugins.plugin_utils.rules import load_edition, verify_run_dir, verify_tree

BASE_REQ = {
    "edition": "3.0", "division": "open", "server_mode": "embedded", "client": "builtin", "index_type": "HNSW",
    "metric_type": "COSINE", "index_params": {}, "dimension": 128, "num_vectors": 10000, "distribution": "uniform",
    "seed": 42, "chunk_size": 10000, "load_batch_size": 1000, "num_shards": 1, "collection": "",
    "mode": "query_count", "runtime": 60, "queries": 1000, "processes": 2, "batch_size": 1, "k": 10,
    "search_ef": 200, "nprobe": None, "num_query_vectors": 200, "report_count": 100, "runs": 0,
    "host": "127.0.0.1", "port": 19530, "connect_timeout": 10, "credentials_file": "",
    "paths": {"data_dir": "/mnt/data", "results_dir": "/srv/results", "work_dir": "/var/tmp/w",
              "venv_bin": "/opt/vdb/bin", "client_script": "/var/tmp/w/vectordb/mlperf_vdb_client.py",
              "vdbbench_bin": ""},
    "org": "acme", "system": "box1", "allow_invalid": False,
    "engine": {"generation": "milvus-lite", "version": "3.2.2", "lock_hash": "abc"},
}


def plan_of(**changes):
    req = copy.deepcopy(BASE_REQ)
    for key, value in changes.items():
        if key == "paths":
            req["paths"].update(value)
        else:
            req[key] = value
    return _vectordb.plan_vectordb(req)


def variables(plan):
    return [e["variable"] for e in plan["errors"]]


def option(argv, flag):
    return argv[argv.index(flag) + 1]


def test_embedded_hnsw_plan_is_open_because_of_milvus_lite():
    plan = plan_of()
    assert plan["errors"] == []
    assert plan["backend"] == "milvus-lite" and plan["index_type"] == "HNSW"
    assert plan["classification"]["verdict"] == "OPEN"
    opens = [i for i in plan["classification"]["issues"] if i["validation"] == "OPEN"]
    assert len(opens) == 1 and "milvus-lite" in opens[0]["message"] and opens[0]["rule_id"] == "5.6.2"
    base = "/srv/results/open/acme/results/box1/vector_database/milvus/HNSW"
    assert plan["paths"]["run_base"] == base + "/run" and plan["paths"]["datagen_base"] == base + "/datagen"
    assert plan["results_model"] == "milvus/HNSW" and plan["model"] == "milvus_HNSW"
    assert plan["runs"] == 5  # edition 3.0 runs_per_result
    server = plan["server"]["argv"]
    assert server[:2] == ["/opt/vdb/bin/milvus-lite", "server"]
    assert option(server, "--host") == "127.0.0.1" and option(server, "--port") == "19530"
    assert option(server, "--data-dir") == "/mnt/data/vectordb/milvus-lite"


def test_client_command_lines():
    plan = plan_of()
    load = plan["commands"]["datagen"]["argv"]
    assert load[:3] == ["/opt/vdb/bin/python", "/var/tmp/w/vectordb/mlperf_vdb_client.py", "load"]
    assert option(load, "--output-dir") == _vectordb.RUN_DIR_TOKEN
    assert option(load, "--collection") == "mlps_10k_1shards_128dim_uniform"
    assert json.loads(option(load, "--index-params")) == {"M": 64, "efConstruction": 200}
    assert option(load, "--batch-size") == "1000"
    # the client drops only a collection it created; dropping another one is the role's opt-in, before the load
    assert "--force" not in load and "--drop-existing" not in load
    run = plan["commands"]["run"]["argv"]
    assert run[2] == "search" and option(run, "--mode") == "query_count" and option(run, "--queries") == "1000"
    assert "--runtime" not in run
    assert option(run, "--processes") == "2" and option(run, "--k") == "10" and option(run, "--search-ef") == "200"
    assert "--nprobe" not in run and "--credentials-file" not in run
    timed = plan_of(mode="timed", runtime=45, nprobe=8, credentials_file="/w/cred.json")["commands"]["run"]["argv"]
    assert option(timed, "--runtime") == "45" and "--queries" not in timed and option(timed, "--nprobe") == "8"
    assert option(timed, "--credentials-file") == "/w/cred.json"
    assert option(run, "--storage-root") == "/mnt/data" and option(run, "--results-root") == "/srv/results"


def test_the_client_parses_what_the_plan_builds():
    spec = importlib.util.spec_from_file_location(
        "mlperf_vdb_client", os.path.join(REPO, "roles", "vectordb", "files", "mlperf_vdb_client.py"))
    client = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(client)
    plan = plan_of(mode="timed", runtime=45, nprobe=8)
    for phase in ("datagen", "run"):
        args = client.build_parser().parse_args(plan["commands"][phase]["argv"][2:])
        assert client.validate(args) is None
        assert args.num_vectors == 10000 and args.dimension == 128 and args.index_type == "HNSW"
    assert args.runtime == 45.0 and args.nprobe == 8 and args.processes == 2


def test_vdbbench_command_lines():
    plan = plan_of(client="vdbbench", paths={"vdbbench_bin": "/opt/upstream/bin"}, mode="timed", runtime=300,
                   division="open")
    load = plan["commands"]["datagen"]["argv"]
    assert load[0] == "/opt/upstream/bin/load-vdb"
    for flag, value in (("--collection-name", "mlps_10k_1shards_128dim_uniform"), ("--dimension", "128"),
                        ("--num-shards", "1"), ("--vector-dtype", "FLOAT_VECTOR"), ("--num-vectors", "10000"),
                        ("--distribution", "uniform"), ("--batch-size", "1000"), ("--chunk-size", "10000"),
                        ("--index-type", "HNSW")):
        assert option(load, flag) == value
    wrapped = plan["commands"]["run"]["argv"]
    # ours wraps the upstream client: fs_separation.json before, summary.json after
    assert wrapped[2] == "wrap" and option(wrapped, "--output-dir") == _vectordb.RUN_DIR_TOKEN
    assert option(wrapped, "--storage-root") == "/mnt/data"
    run = wrapped[wrapped.index("--") + 1:]
    assert run[0] == "/opt/upstream/bin/vdbbench"
    assert option(run, "--runtime") == "300" and option(run, "--output-dir") == _vectordb.RUN_DIR_TOKEN
    assert option(run, "--vector-dim") == "128" and option(run, "--search-limit") == "10"
    assert "--json-output" in run
    counted = plan_of(client="vdbbench")["commands"]["run"]["argv"]
    assert option(counted, "--queries") == "1000" and "--runtime" not in counted


def test_an_index_milvus_lite_cannot_build_is_an_error_before_anything():
    plan = plan_of(index_type="diskann")
    assert variables(plan) == ["vectordb_index_type"]
    err = plan["errors"][0]
    assert "cannot build index DISKANN" in err["message"] and "HNSW" in err["message"]
    assert "vectordb_server_mode: external" in err["fix"]
    assert "commands" not in plan and "server" not in plan
    assert variables(plan_of(index_type="AISAQ")) == ["vectordb_index_type"]
    # measured on milvus-lite 3.2.2: IVF_PQ is refused, IVF_SQ8 is built
    assert variables(plan_of(index_type="IVF_PQ")) == ["vectordb_index_type"]
    assert plan_of(index_type="IVF_SQ8")["errors"] == []
    unknown = plan_of(index_type="BOGUS", server_mode="external", host="milvus.example")
    assert "cannot build index BOGUS" in unknown["errors"][0]["message"]


def test_external_milvus_diskann_can_be_closed():
    plan = plan_of(server_mode="external", host="milvus.example", index_type="DISKANN", division="closed",
                   mode="timed", runtime=300)
    assert plan["errors"] == []
    assert plan["classification"]["verdict"] == "CLOSED"
    assert plan["server"] is None
    assert json.loads(option(plan["commands"]["datagen"]["argv"], "--index-params")) == {
        "max_degree": 64, "search_list_size": 200}
    assert option(plan["commands"]["run"]["argv"], "--host") == "milvus.example"


def test_milvus_lite_in_the_closed_division_is_refused():
    plan = plan_of(division="closed")
    assert variables(plan) == ["mlperf_division"]
    assert "would be OPEN" in plan["errors"][0]["message"] and "milvus-lite" in plan["errors"][0]["message"]
    assert plan["errors"][0]["fix"] == "set mlperf_division: open"


def test_a_short_timed_run_is_invalid_unless_allowed():
    plan = plan_of(mode="timed", runtime=10)
    assert variables(plan) == ["vectordb_runtime"] and "below the 30s minimum" in plan["errors"][0]["message"]
    assert plan["errors"][0]["verdict"] == "INVALID"
    allowed = plan_of(mode="timed", runtime=10, allow_invalid=True)
    assert allowed["errors"] == [] and allowed["classification"]["verdict"] == "INVALID"


def test_bad_settings_are_all_reported_at_once():
    plan = plan_of(port=70000, processes=0, metric_type="dot", mode="sweep", index_params=["M", 8],
                   dimension="wide", load_batch_size=20000)
    got = set(variables(plan))
    assert {"vectordb_port", "vectordb_processes", "vectordb_metric_type", "vectordb_mode",
            "vectordb_index_params", "vectordb_dimension", "vectordb_load_batch_size"} <= got
    assert all(e["fix"] for e in plan["errors"])
    assert variables(plan_of(server_mode="cloud")) == ["vectordb_server_mode"]
    assert variables(plan_of(client="other")) == ["vectordb_client"]
    assert variables(plan_of(host="10.0.0.5")) == ["vectordb_host"]
    assert variables(plan_of(collection="1-bad name")) == ["vectordb_collection"]
    assert variables(plan_of(mode="query_count", queries=0)) == ["vectordb_queries"]
    assert variables(plan_of(search_ef=5)) == ["vectordb_search_ef"]
    assert plan_of(search_ef=5, index_type="FLAT")["errors"] == []  # FLAT has no search breadth


def test_collection_names_and_index_params():
    assert _vectordb.collection_name(10000, 1, 128, "uniform") == "mlps_10k_1shards_128dim_uniform"
    assert _vectordb.collection_name(1000000, 1, 1536, "uniform") == "mlps_1m_1shards_1536dim_uniform"
    assert _vectordb.collection_name(12345, 2, 64, "normal") == "mlps_12345_2shards_64dim_normal"
    assert _vectordb.index_params(load_edition("3.0"), "HNSW", {"M": 16}) == {"M": 16, "efConstruction": 200}
    assert _vectordb.index_params(load_edition("3.0"), "FLAT") == {}


def test_a_run_count_other_than_the_rules_is_warned():
    plan = plan_of(runs=2)
    assert plan["runs"] == 2 and any("exactly 5" in w for w in plan["warnings"])


# ---------------------------------------------------------------------------------------------------------
# a leaf in our shapes, judged by the rules engine
# ---------------------------------------------------------------------------------------------------------
def _client():
    spec = importlib.util.spec_from_file_location(
        "mlperf_vdb_client", os.path.join(REPO, "roles", "vectordb", "files", "mlperf_vdb_client.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_leaf(root, plan, command, ts, coverage=1.0, same_fs=False):
    client = _client()
    leaf = os.path.join(plan["paths"]["%s_base" % command].replace("/srv/results", str(root)), ts)
    os.makedirs(leaf)
    status = {"rc": 0, "start": "2026-01-01T00:00:00", "end": "2026-01-01T00:01:00", "duration_seconds": 60.0,
              "ended_by": "exit"}
    meta = run_metadata(plan, command, leaf, ts, status=status)
    with open(os.path.join(leaf, "vector_database_%s_metadata.json" % ts), "w") as handle:
        json.dump(meta, handle)
    s = plan["settings"]
    if command == "datagen":
        summary = {"num_vectors": s["num_vectors"], "dimension": s["dimension"],
                   "inserted_vectors": s["num_vectors"], "index_type": s["index_type"]}
    else:
        stats = client.aggregate_search([{"latencies_ms": [2.0, 3.0, 4.0], "queries": 3}], 1.5, 1)
        stats["recall"] = client.recall_stats([1.0, 0.9], 10)
        summary = client.project_summary(stats, {"num_vectors": s["num_vectors"], "dimension": s["dimension"],
                                                 "index_type": s["index_type"], "database": {"database": "milvus"}})
        verdict = client.result_verdict({"ok": True, "coverage": coverage}, stats["recall"])
        with open(os.path.join(leaf, "result_verdict.json"), "w") as handle:
            json.dump(verdict, handle)
        with open(os.path.join(leaf, "fs_separation.json"), "w") as handle:
            json.dump({"same_filesystem": same_fs, "data_or_chkpt_path": "/mnt/data",
                       "results_path": "/srv/results"}, handle)
    with open(os.path.join(leaf, "summary.json"), "w") as handle:
        json.dump(summary, handle)
    return leaf


def issues_by_rule(run):
    return {i["rule_id"]: i for i in run["issues"]}


def test_our_run_leaf_passes_the_vector_database_checks(tmp_path):
    plan = plan_of(server_mode="external", host="milvus.example", division="open")
    leaf = write_leaf(tmp_path, plan, "run", "20260101_000000")
    run = verify_run_dir(leaf)
    rules = issues_by_rule(run)
    assert run["verdict"] == "CLOSED", run["issues"]
    for rule in ("5.3.4", "5.3.5", "5.4.1", "5.4.2", "5.6.2", "5.6.3", "5.6.4"):
        assert rules[rule]["validation"] == "CLOSED", rules[rule]
    assert run["metrics"], "the rules engine read no metrics from our summary.json"


def test_partial_ground_truth_and_shared_filesystem_are_invalid(tmp_path):
    plan = plan_of(server_mode="external", host="milvus.example")
    leaf = write_leaf(tmp_path, plan, "run", "20260101_000000", coverage=0.5, same_fs=True)
    run = verify_run_dir(leaf)
    rules = [i["rule_id"] for i in run["issues"] if i["validation"] == "INVALID"]
    assert run["verdict"] == "INVALID" and "5.3.5" in rules and "5.4.2" in rules


def test_a_whole_result_of_ours_forms_one_submission(tmp_path):
    plan = plan_of(server_mode="external", host="milvus.example")
    write_leaf(tmp_path, plan, "datagen", "20260101_000000")
    for n in range(5):
        write_leaf(tmp_path, plan, "run", "20260101_00%02d00" % (n + 1))
    report = verify_tree(os.path.join(str(tmp_path), "open", "acme", "results", "box1", "vector_database",
                                      "milvus", "HNSW")).to_dict()
    assert report["verdict"] == "CLOSED", json.dumps(report["submissions"], indent=1)[:2000]
    assert len(report["runs"]) == 6
    # four runs are not a result
    fewer = tmp_path / "fewer"
    write_leaf(fewer, plan, "datagen", "20260101_000000")
    for n in range(4):
        write_leaf(fewer, plan, "run", "20260101_00%02d00" % (n + 1))
    short = verify_tree(os.path.join(str(fewer), "open")).to_dict()
    assert short["verdict"] == "INVALID"


@pytest.mark.parametrize("changes, variable, fix", [
    (dict(server_mode="cloud"), "vectordb_server_mode",
     "use embedded (milvus-lite on the launcher) or external (an existing Milvus at vectordb_host:vectordb_port)"),
    (dict(client="pymilvus"), "vectordb_client",
     "use builtin (this collection's client) or vdbbench (the upstream client, installed separately)"),
])
def test_an_unknown_server_mode_or_client_stops_the_plan_naming_the_choices(changes, variable, fix):
    plan = plan_of(**changes)
    [error] = plan["errors"]
    value = list(changes.values())[0]
    assert error["variable"] == variable and error["fix"] == fix
    assert error["message"].startswith("%s is %r; expected " % (variable, value))
