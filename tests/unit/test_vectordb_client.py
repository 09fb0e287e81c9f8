# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The vector database client's pure parts: percentiles, recall, aggregation, summary projection, arguments.

The client runs in the vectordb environment (pymilvus, numpy); these parts use the standard library only and
are imported here from the role's files directory.
"""
import json
import math
import os
import random

import pytest

from _testpaths import CORPUS, REPO

CLIENT = os.path.join(REPO, "roles", "vectordb", "files", "mlperf_vdb_client.py")
PUBLISHED_RUN = os.path.join(CORPUS, "closed", "NewFW", "results", "Solidigm_D7-PS1010_7TB_Gen5_NVMe_TLC",
                             "vector_database", "milvus", "DISKANN", "run", "20260718_212326")


@pytest.fixture(scope="module")
def client(load_script):
    return load_script(CLIENT)


def published_json(name):
    """A file of a published vector-database run of the corpus, read as JSON (the test skips without the corpus)."""
    path = os.path.join(PUBLISHED_RUN, name)
    if not os.path.exists(path):
        pytest.skip("corpus not available at %s (set MLPERF_CORPUS)" % CORPUS)
    with open(path) as handle:
        return json.load(handle)


def reference_percentile(values, pct):
    """Textbook linear interpolation between closest ranks (the numpy default)."""
    ordered = sorted(values)
    rank = (len(ordered) - 1) * pct / 100.0
    lo, hi = math.floor(rank), math.ceil(rank)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (rank - lo)


def test_percentile_interpolates_between_ranks(client):
    values = [10.0, 20.0, 30.0, 40.0]
    assert client.percentile(values, 0) == 10.0
    assert client.percentile(values, 100) == 40.0
    assert client.percentile(values, 50) == pytest.approx(25.0)
    assert client.percentile(values, 95) == pytest.approx(38.5)
    assert client.percentile([7.0], 99.9) == 7.0
    assert client.percentile([], 50) is None
    rng = random.Random(3)
    sample = sorted(rng.uniform(0, 100) for _ in range(1001))
    for pct in (5, 50, 95, 99, 99.9, 99.99):
        assert client.percentile(sample, pct) == pytest.approx(reference_percentile(sample, pct))


def test_percentile_rejects_out_of_range(client):
    with pytest.raises(ValueError, match="0..100"):
        client.percentile([1.0], 101)


def test_latency_stats_uses_the_upstream_field_names(client):
    lat = [float(i) for i in range(1, 1001)]  # 1..1000 ms
    random.Random(1).shuffle(lat)
    stats = client.latency_stats(lat)
    assert stats["min_latency_ms"] == 1.0 and stats["max_latency_ms"] == 1000.0
    assert stats["mean_latency_ms"] == pytest.approx(500.5)
    assert stats["median_latency_ms"] == pytest.approx(500.5)
    assert stats["p95_latency_ms"] == pytest.approx(950.05)
    assert stats["p99_latency_ms"] == pytest.approx(990.01)
    assert stats["p999_latency_ms"] == pytest.approx(999.001)
    assert stats["p9999_latency_ms"] == pytest.approx(999.9001)
    empty = client.latency_stats([])
    assert set(empty.values()) == {None} and "p999_latency_ms" in empty


def test_recall_at_k_counts_true_neighbours_among_the_first_k(client):
    truth = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
    assert client.recall_at_k(truth, truth, 10) == 1.0
    assert client.recall_at_k([1, 2, 3, 99, 98, 97, 96, 95, 94, 93], truth, 10) == pytest.approx(0.3)
    # order does not matter, and ids beyond k are ignored
    assert client.recall_at_k(list(reversed(truth)), truth, 10) == 1.0
    assert client.recall_at_k([99] * 10 + truth, truth, 10) == 0.0
    assert client.recall_at_k([1, 2], truth, 2) == 1.0
    with pytest.raises(ValueError):
        client.recall_at_k([1], [1], 0)


def test_recall_stats_matches_the_published_shape(client):
    per_query = [0.5, 1.0, 0.8, 0.7]
    stats = client.recall_stats(per_query, 10)
    assert stats["mean_recall"] == pytest.approx(0.75) and stats["recall_at_k"] == pytest.approx(0.75)
    assert stats["min_recall"] == 0.5 and stats["max_recall"] == 1.0
    assert stats["num_queries_evaluated"] == 4 and stats["k"] == 10
    assert stats["per_query_recall"] == per_query
    assert stats["recall_by_query"] == {"0": 0.5, "1": 1.0, "2": 0.8, "3": 0.7}
    published = published_json("recall_stats.json")
    assert set(stats) == set(published), "recall_stats.json keys differ from the published client's"


def test_split_queries_is_even_and_complete(client):
    assert client.split_queries(10, 3) == [4, 3, 3]
    assert client.split_queries(2, 4) == [1, 1, 0, 0]
    assert sum(client.split_queries(1001, 7)) == 1001
    with pytest.raises(ValueError):
        client.split_queries(10, 0)


def test_aggregate_search_sums_workers_over_the_wall_time(client):
    workers = [
        {"latencies_ms": [1.0, 2.0, 3.0], "queries": 3, "failed_batches": 0},
        {"latencies_ms": [4.0, 5.0], "queries": 2, "failed_batches": 1},
    ]
    stats = client.aggregate_search(workers, 2.0, 1)
    assert stats["total_queries"] == 5
    assert stats["throughput_qps"] == pytest.approx(2.5)
    assert stats["total_time_seconds"] == 2.0
    assert stats["batch_count"] == 6 and stats["successful_batches"] == 5 and stats["failed_batches"] == 1
    assert stats["mean_latency_ms"] == pytest.approx(3.0)
    assert stats["max_batch_time_ms"] == 5.0
    assert stats["num_processes"] == 2
    # batches of 4 queries: QPS counts queries, latencies count batches
    batched = client.aggregate_search([{"latencies_ms": [10.0, 10.0], "queries": 8}], 1.0, 4)
    assert batched["throughput_qps"] == pytest.approx(8.0) and batched["successful_batches"] == 2
    assert client.aggregate_search([], 0.0, 1)["throughput_qps"] is None


def test_project_summary_reduces_dict_recall_and_keeps_settings(client):
    stats = client.aggregate_search([{"latencies_ms": [1.0, 3.0], "queries": 2}], 1.0, 1)
    stats["recall"] = client.recall_stats([0.9, 1.0], 10)
    summary = client.project_summary(stats, {"num_vectors": 100, "dimension": 8, "index_type": "HNSW",
                                             "benchmark_mode": "timed", "database": {"database": "milvus"}})
    assert summary["recall"] == pytest.approx(0.95) and summary["mean_recall"] == pytest.approx(0.95)
    assert summary["recall_k"] == 10
    assert not {"per_query_recall", "recall_by_query"} & set(summary["recall_detail"])
    assert summary["query_count"] == 2 and summary["throughput_qps"] == pytest.approx(2.0)
    for key in ("mean_latency_ms", "p95_latency_ms", "p99_latency_ms", "p999_latency_ms", "total_time_seconds"):
        assert summary[key] is not None
    assert summary["index_type"] == "HNSW" and summary["database"] == {"database": "milvus"}
    assert client.project_summary({"recall": 0.5}, {})["recall"] == 0.5


def test_project_summary_of_a_published_statistics_file(client):
    stats = published_json("statistics.json")
    summary = client.project_summary(stats, {"index_type": "DISKANN"})
    assert summary["throughput_qps"] == stats["throughput_qps"]
    assert summary["query_count"] == stats["total_queries"]
    assert summary["recall"] == stats["recall"]["mean_recall"]
    assert summary["p999_latency_ms"] == stats["p999_latency_ms"]


def test_result_verdict(client):
    recall = client.recall_stats([1.0, 0.9], 10)
    good = client.result_verdict({"ok": True, "coverage": 1.0}, recall)
    assert good["valid"] is True and good["result"] == "valid" and good["reason"] == ""
    assert good["recall_summary"]["num_queries_evaluated"] == 2
    partial = client.result_verdict({"ok": True, "coverage": 0.5}, recall)
    assert partial["valid"] is False and "50.0%" in partial["reason"]
    failed = client.result_verdict({"ok": False, "coverage": 1.0, "reason": "collection short"}, recall)
    assert failed["result"] == "invalid" and "collection short" in failed["reason"]
    none = client.result_verdict({"ok": True, "coverage": 1.0}, client.recall_stats([], 10))
    assert none["valid"] is False and "no query" in none["reason"]


def test_search_params_per_index_family(client):
    assert client.search_params("HNSW", "COSINE", 200) == {"metric_type": "COSINE", "params": {"ef": 200}}
    assert client.search_params("diskann", "L2", 100)["params"] == {"search_list": 100}
    assert client.search_params("IVF_FLAT", "IP", 200, nprobe=16)["params"] == {"nprobe": 16}
    assert client.search_params("FLAT", "COSINE", 200)["params"] == {}


def test_chunk_bounds_cover_every_id_once(client):
    bounds = client.chunk_bounds(25, 10)
    assert bounds == [(0, 0, 10), (1, 10, 10), (2, 20, 5)]
    assert sum(count for _i, _f, count in client.chunk_bounds(100000, 7777)) == 100000
    with pytest.raises(ValueError):
        client.chunk_bounds(10, 0)


def test_arguments_are_checked_before_anything_connects(client, capsys):
    base = ["search", "--collection", "c", "--dimension", "8", "--num-vectors", "10", "--index-type", "hnsw",
            "--output-dir", "/tmp/x"]
    with pytest.raises(SystemExit) as exc:
        client.main(base + ["--mode", "query_count"])
    assert exc.value.code == client.EXIT_USAGE
    assert "--queries must be at least 1 in query_count mode" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        client.main(base + ["--processes", "0"])
    assert "must be at least 1" in capsys.readouterr().err
    args = client.build_parser().parse_args(base)
    assert args.index_type == "HNSW" and args.mode == "timed" and client.validate(args) is None


def test_a_bad_credentials_file_is_one_clear_error(client, tmp_path, capsys):
    bad = tmp_path / "credentials.json"
    bad.write_text("{not json")
    code = client.main(["ping", "--port", "1", "--credentials-file", str(bad)])
    err = capsys.readouterr().err
    assert code in (client.EXIT_USAGE, client.EXIT_FAILED)
    assert err.startswith("mlperf_vdb_client: error:") and "Traceback" not in err


def test_fs_separation_compares_devices(client):
    same = client.fs_separation("/data", 2049, "/results", 2049)
    assert same["same_filesystem"] is True
    apart = client.fs_separation("/data", 2049, "/results", 66, "/data", "/")
    assert apart["same_filesystem"] is False and apart["data_or_chkpt_path"] == "/data"
    assert apart["results_path"] == "/results" and apart["results_mount_point"] == "/"


def test_wrap_runs_the_upstream_client_then_summarizes(client, tmp_path):
    """The vdbbench path: our client runs the other one, then writes fs_separation.json and summary.json."""
    import sys

    out = tmp_path / "leaf"
    stats = {"total_queries": 30, "total_time_seconds": 3.0, "throughput_qps": 10.0, "mean_latency_ms": 2.0,
             "p95_latency_ms": 3.0, "p99_latency_ms": 4.0, "p999_latency_ms": 5.0,
             "recall": {"mean_recall": 0.9, "recall_at_k": 0.9, "k": 10}}
    fake = "import json,sys; json.dump(%r, open(sys.argv[1] + '/statistics.json', 'w'))" % (stats,)
    code = client.main(["wrap", "--output-dir", str(out), "--num-vectors", "100", "--dimension", "8",
                        "--index-type", "hnsw", "--mode", "timed", "--storage-root", str(tmp_path),
                        "--results-root", str(tmp_path), "--", sys.executable, "-c", fake, str(out)])
    assert code == client.EXIT_OK
    summary = json.loads((out / "summary.json").read_text())
    assert summary["recall"] == 0.9 and summary["query_count"] == 30 and summary["index_type"] == "HNSW"
    assert json.loads((out / "fs_separation.json").read_text())["same_filesystem"] is True


def test_wrap_reports_a_failed_child_in_one_line(client, tmp_path, capsys):
    import sys

    code = client.main(["wrap", "--output-dir", str(tmp_path / "leaf"), "--", sys.executable, "-c",
                        "raise SystemExit(3)"])
    err = capsys.readouterr().err
    assert code == client.EXIT_FAILED and "ended with exit code 3" in err and "Traceback" not in err
    assert not (tmp_path / "leaf" / "summary.json").exists()


# --- ownership: only a collection this client created is dropped without an opt-in -------------------------------

def test_the_ownership_mark(client):
    assert client.created_by_us({"properties": {client.OWNER_PROPERTY: client.OWNER_VALUE}, "description": ""})
    assert client.created_by_us({"properties": {}, "description": client.OWNER_DESCRIPTION})  # earlier versions
    for other in ({}, None, {"properties": {client.OWNER_PROPERTY: "someone else"}},
                  {"properties": {}, "description": "my embeddings"}, {"properties": ["x"], "description": None}):
        assert not client.created_by_us(other), other


@pytest.mark.parametrize("exists, ours, opt_in, expected", [
    (False, False, False, "create"), (False, False, True, "create"),
    (True, True, False, "replace"), (True, True, True, "replace"),
    (True, False, False, "refuse"), (True, False, True, "drop_foreign"),
])
def test_what_happens_to_an_existing_collection(client, exists, ours, opt_in, expected):
    assert client.existing_collection_action(exists, ours, opt_in) == expected


class FakeMilvus:
    """The few MilvusClient calls the ownership rule makes, over a dict of collections."""

    def __init__(self, collections):
        self.collections = dict(collections)
        self.dropped = []

    def has_collection(self, name):
        return name in self.collections

    def describe_collection(self, name):
        return dict(self.collections[name])

    def get_collection_stats(self, name):
        return {"row_count": 1234}

    def drop_collection(self, name):
        self.dropped.append(name)
        del self.collections[name]


def _args(client, collection="mlps_10k_1shards_128dim_uniform"):
    return client.build_parser().parse_args(["check-collection", "--host", "milvus.example", "--port", "19530",
                                             "--collection", collection])


def test_a_foreign_collection_is_refused_with_the_uri_and_the_way_on(client, capsys):
    fake = FakeMilvus({"mlps_10k_1shards_128dim_uniform": {"description": "team embeddings", "properties": {}}})
    with pytest.raises(client.ClientError) as err:
        client.settle_existing(fake, _args(client), drop_existing=False)
    assert err.value.code == client.EXIT_FOREIGN == 5
    message = str(err.value)
    assert message.startswith("collection mlps_10k_1shards_128dim_uniform already exists on the Milvus at "
                              "http://milvus.example:19530 (1234 rows) and was not created by mlperf.storage")
    assert "nothing was loaded" in message and "vectordb_drop_existing: true" in message
    assert "vectordb_collection" in message
    assert fake.dropped == [] and "mlps_10k_1shards_128dim_uniform" in fake.collections


def test_a_foreign_collection_is_dropped_only_with_the_opt_in(client, capsys):
    fake = FakeMilvus({"c1": {"description": "", "properties": {}}})
    assert client.settle_existing(fake, _args(client, "c1"), drop_existing=True) == "drop_foreign"
    assert fake.dropped == ["c1"]
    assert "which this client did not create" in capsys.readouterr().out


def test_our_own_collection_is_replaced_and_a_free_name_left_alone(client, capsys):
    fake = FakeMilvus({"c1": {"description": "", "properties": {client.OWNER_PROPERTY: client.OWNER_VALUE}},
                       "other": {"description": "", "properties": {}}})
    assert client.settle_existing(fake, _args(client, "c1"), drop_existing=False) == "replace"
    assert client.settle_existing(fake, _args(client, "new"), drop_existing=False) == "create"
    assert fake.dropped == ["c1"] and "other" in fake.collections


def test_a_describe_that_fails_counts_as_not_ours(client):
    class Broken(FakeMilvus):
        def describe_collection(self, name):
            raise RuntimeError("permission denied")

    fake = Broken({"c1": {}})
    with pytest.raises(client.ClientError):
        client.settle_existing(fake, _args(client, "c1"), drop_existing=False)
    assert fake.dropped == []


def test_load_drops_nothing_foreign_unless_told(client):
    parser = client.build_parser()
    base = ["load", "--collection", "c", "--dimension", "8", "--num-vectors", "10", "--index-type", "hnsw",
            "--output-dir", "/tmp/x"]
    assert parser.parse_args(base).drop_existing is False
    assert parser.parse_args(base + ["--drop-existing"]).drop_existing is True
    assert parser.parse_args(base + ["--force"]).drop_existing is True  # the earlier spelling
    check = parser.parse_args(["check-collection", "--collection", "c"])
    assert check.drop_existing is False and check.func is client.cmd_check_collection
    assert parser.parse_args(["mark", "--collection", "c"]).func is client.cmd_mark
