# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The vector database benchmark end to end on localhost with the real milvus-lite, run the way AWX runs it.

playbooks/run_vectordb.yml installs the vectordb lock into its own environment (real pip install the first time),
starts milvus-lite on loopback with its data on the "storage under test", loads 10k x 128-d vectors with an HNSW
index, makes the rules' 5 search runs, stops the server and verifies the tree. The data directory is on /dev/shm
(tmpfs) so data and results are on different filesystems, as the rules require. Bad input: an index milvus-lite
cannot build, and an external Milvus that does not answer, each fail once, clearly, before anything is loaded.
"""
import json
import os
import shutil
import socket
import subprocess
import tempfile

import pytest

from _faultkit import engine_processes
from _testpaths import REPO
from harness.plays import artifact_data, run_project_playbook

ansible_runner = pytest.importorskip("ansible_runner")

pytestmark = pytest.mark.integration

VENV = "/var/tmp/mlperf-storage/venv-vectordb"  # the role's default, shared with the documented run
CLIENT = os.path.join(REPO, "roles", "vectordb", "files", "mlperf_vdb_client.py")
QUERIES = 400


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def listening(port):
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def run_playbook(base, extravars, name, cmdline=None):
    return run_project_playbook(base, "playbooks/run_vectordb.yml", extravars, name, cmdline)


def failed_tasks(result):
    return [e for e in result.events if e.get("event") == "runner_on_failed"
            and not e["event_data"].get("ignore_errors")]


@pytest.fixture(scope="module")
def shm_base():
    base = tempfile.mkdtemp(prefix="mlperf-vdb-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    yield base
    shutil.rmtree(base, ignore_errors=True)


def dirs_for(base, shm_base, name):
    out = {"results": base / ("results-" + name), "work": base / ("work-" + name),
           "data": os.path.join(shm_base, "data-" + name)}
    out["results"].mkdir()
    out["work"].mkdir()
    os.makedirs(out["data"])
    return out


def extravars_for(dirs, port, **more):
    out = {"mlperf_results_dir": str(dirs["results"]), "mlperf_data_dir": dirs["data"],
           "mlperf_work_dir": str(dirs["work"]), "vectordb_port": port, "vectordb_queries": QUERIES,
           # the telemetry role is tested on its own; here it would double the run time
           "vectordb_telemetry": False}
    out.update(more)
    return out


@pytest.fixture(scope="module")
def vdb(tmp_path_factory, shm_base):
    base = tmp_path_factory.mktemp("vectordb")
    dirs = dirs_for(base, shm_base, "main")
    port = free_port()
    result, out = run_playbook(base, extravars_for(dirs, port), "main")
    model_dir = dirs["results"] / "open" / "embedded" / "results" / "localhost" / "vector_database" / "milvus" / "HNSW"
    return {"result": result, "out": out, "dirs": dirs, "port": port, "model_dir": model_dir}


def test_the_playbook_succeeds(vdb):
    assert vdb["result"].rc == 0, vdb["out"][-5000:]
    assert "Traceback" not in vdb["out"]
    assert "planned verdict: OPEN" in vdb["out"]


def test_layout_and_leaf_files(vdb):
    model_dir = vdb["model_dir"]
    assert sorted(p.name for p in model_dir.iterdir() if p.is_dir()) == ["datagen", "run"]
    datagens = sorted((model_dir / "datagen").iterdir())
    runs = sorted(p for p in (model_dir / "run").iterdir() if p.is_dir())
    assert len(datagens) == 1 and len(runs) == 5
    # the report play ran after the benchmark play: the run folder's rollups, next to the run directories
    assert sorted(p.name for p in (model_dir / "run").iterdir() if not p.is_dir()) == ["results.csv", "results.json"]
    gen = datagens[0]
    for name in ("summary.json", "vector_database_datagen.stdout.log", "vector_database_datagen.stderr.log",
                 "vector_database_%s_metadata.json" % gen.name, "CHECKSUMS.sha256"):
        assert (gen / name).is_file(), name
    for run in runs:
        for name in ("summary.json", "statistics.json", "recall_stats.json", "result_verdict.json", "config.json",
                     "fs_separation.json", "vector_database_run.stdout.log", "vector_database_run.stderr.log",
                     "vector_database_%s_metadata.json" % run.name, "CHECKSUMS.sha256"):
            assert (run / name).is_file(), "%s/%s" % (run.name, name)


def test_load_summary(vdb):
    gen = sorted((vdb["model_dir"] / "datagen").iterdir())[0]
    summary = json.loads((gen / "summary.json").read_text())
    assert summary["num_vectors"] == 10000 and summary["inserted_vectors"] == 10000
    assert summary["dimension"] == 128 and summary["index_type"] == "HNSW"
    assert summary["index_params"] == {"M": 64, "efConstruction": 200}
    assert summary["insert_seconds"] > 0 and summary["insert_rate_vectors_per_second"] > 0
    assert summary["indexed_rows"] == 10000 and summary["index_build_seconds"] > 0
    assert summary["database"]["server_version"].startswith("milvus_lite")
    meta = json.loads((gen / ("vector_database_%s_metadata.json" % gen.name)).read_text())
    assert meta["command"] == "datagen" and meta["exit_status"] == 0
    assert meta["parameters"]["dataset"]["num_vectors"] == 10000


def test_run_summaries_recall_and_metadata(vdb):
    for run in sorted(p for p in (vdb["model_dir"] / "run").iterdir() if p.is_dir()):
        summary = json.loads((run / "summary.json").read_text())
        for key in ("throughput_qps", "mean_latency_ms", "p95_latency_ms", "p99_latency_ms", "p999_latency_ms",
                    "total_time_seconds"):
            assert isinstance(summary[key], float) and summary[key] > 0, key
        assert summary["mean_latency_ms"] <= summary["p99_latency_ms"] <= summary["p999_latency_ms"]
        assert summary["query_count"] == QUERIES
        assert summary["throughput_qps"] == pytest.approx(QUERIES / summary["total_time_seconds"])
        assert summary["recall"] > 0.9, "HNSW at 10k vectors should find > 90% of the exact neighbours"
        assert summary["num_vectors"] == 10000 and summary["dimension"] == 128 and summary["index_type"] == "HNSW"
        recall = json.loads((run / "recall_stats.json").read_text())
        assert recall["num_queries_evaluated"] == 200 and recall["k"] == 10
        assert recall["mean_recall"] == summary["recall"]
        verdict = json.loads((run / "result_verdict.json").read_text())
        assert verdict["valid"] is True and verdict["flat_setup"]["coverage"] == 1.0
        stats = json.loads((run / "statistics.json").read_text())
        assert stats["num_processes"] == 2 and stats["failed_batches"] == 0
        meta = json.loads((run / ("vector_database_%s_metadata.json" % run.name)).read_text())
        assert meta["benchmark_type"] == "vector_database" and meta["command"] == "run"
        assert meta["model"] == "milvus_HNSW" and meta["run_datetime"] == run.name
        assert meta["exit_status"] == 0 and meta["complete"] is True
        assert meta["args"]["vdb_backend"] == "milvus-lite" and meta["args"]["mode"] == "open"
        assert meta["args"]["storage_root"] == vdb["dirs"]["data"]
        assert meta["verification"] == "OPEN"
        assert any("milvus-lite" in i["message"] and i["validation"] == "OPEN" for i in meta["planned_issues"])
        assert str(run) in meta["executed_command"]
        fs = json.loads((run / "fs_separation.json").read_text())
        assert fs["same_filesystem"] is False  # tmpfs data, disk results


def test_server_data_on_the_storage_under_test_and_stopped(vdb):
    assert os.path.isdir(os.path.join(vdb["dirs"]["data"], "vectordb", "milvus-lite"))
    assert not listening(vdb["port"]), "milvus-lite still listens after the play"
    assert engine_processes(vdb["dirs"]["data"]) == []


def test_verify_finds_nothing_invalid(vdb):
    artifacts = artifact_data(vdb["result"])
    assert artifacts.get("mlperf_results_dir") == str(vdb["model_dir"])
    report = json.loads((vdb["model_dir"] / "mlperf-rules-report.json").read_text())
    invalid = [(r["path"], i["rule_id"], i["message"]) for r in report["runs"] for i in r["issues"]
               if i["validation"] == "INVALID"]
    assert invalid == []
    assert len(report["runs"]) == 6
    assert artifacts.get("mlperf_verdict") in ("OPEN", "CLOSED")


def test_verify_verdict_is_open_for_milvus_lite(vdb):
    artifacts = artifact_data(vdb["result"])
    report = json.loads((vdb["model_dir"] / "mlperf-rules-report.json").read_text())
    mentions = [i for r in report["runs"] for i in r["issues"] if "milvus-lite" in i["message"]]
    assert artifacts.get("mlperf_verdict") == "OPEN" and mentions


def test_ground_truth_is_exact(vdb):
    """The client's numpy brute force agrees with a plain-Python scan of the same seeded vectors."""
    if not os.path.exists(os.path.join(VENV, "bin", "python")):
        pytest.skip("the vectordb environment is provisioned by the playbook run")
    code = r"""
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("c", sys.argv[1]); c = importlib.util.module_from_spec(spec)
spec.loader.exec_module(c)
dim, n, chunk, k = 8, 250, 100, 5
q = c.query_vectors(7, 6, dim, "uniform")
chunks = [(first, c.chunk_vectors(7, i, chunk, dim, "uniform", count)) for i, first, count in c.chunk_bounds(n, chunk)]
out = {}
for metric in ("COSINE", "L2", "IP"):
    ids, scanned = c.exact_neighbours(q, chunks, k, metric)
    out[metric] = {"ids": ids.tolist(), "scanned": scanned}
rows = [v.tolist() for _, vs in chunks for v in vs]
out["rows"] = rows
out["queries"] = q.tolist()
# the same chunk is the same vectors whatever the collection size
out["stable"] = c.chunk_vectors(7, 1, chunk, dim, "uniform", 10).tolist() == chunks[1][1][:10].tolist()
print(json.dumps(out))
"""
    proc = subprocess.run([os.path.join(VENV, "bin", "python"), "-c", code, CLIENT], capture_output=True,
                          text=True, check=True)
    data = json.loads(proc.stdout)
    rows, queries = data["rows"], data["queries"]
    assert len(rows) == 250 and data["stable"] is True

    def dot(a, b):
        return sum(x * y for x, y in zip(a, b))

    def score(metric, q, x):
        if metric == "COSINE":
            return dot(q, x) / (dot(q, q) ** 0.5 * dot(x, x) ** 0.5)
        if metric == "IP":
            return dot(q, x)
        return -sum((a - b) ** 2 for a, b in zip(q, x))

    for metric in ("COSINE", "L2", "IP"):
        assert data[metric]["scanned"] == 250
        for qi, q in enumerate(queries):
            expected = sorted(range(len(rows)), key=lambda i: -score(metric, q, rows[i]))[:5]
            assert data[metric]["ids"][qi] == expected, (metric, qi)


def test_check_mode_plans_and_starts_nothing(tmp_path, shm_base, vdb):
    dirs = dirs_for(tmp_path, shm_base, "check")
    port = free_port()
    result, out = run_playbook(tmp_path, extravars_for(dirs, port), "check", cmdline="--check")
    assert result.rc == 0, out[-3000:]
    assert "planned verdict: OPEN" in out
    assert list(dirs["results"].iterdir()) == []
    assert not listening(port)


def test_an_index_milvus_lite_cannot_build_fails_before_anything(tmp_path, shm_base, vdb):
    dirs = dirs_for(tmp_path, shm_base, "diskann")
    port = free_port()
    result, out = run_playbook(tmp_path, extravars_for(dirs, port, vectordb_index_type="DISKANN"), "diskann")
    assert result.rc != 0
    failures = failed_tasks(result)
    assert len(failures) == 1, [f["event_data"]["task"] for f in failures]
    msg = failures[0]["event_data"]["res"]["msg"]
    assert "cannot build index DISKANN" in msg and "vectordb_server_mode: external" in msg
    assert "Traceback" not in out
    assert list(dirs["results"].iterdir()) == []
    assert os.listdir(dirs["data"]) == []  # no server data directory: nothing started
    assert not listening(port)


def test_an_unreachable_external_milvus_is_one_clear_error(tmp_path, shm_base, vdb):
    dirs = dirs_for(tmp_path, shm_base, "external")
    port = free_port()  # nothing listens there
    result, out = run_playbook(tmp_path, extravars_for(dirs, port, vectordb_server_mode="external",
                                                       vectordb_host="127.0.0.1", vectordb_connect_timeout=3,
                                                       vectordb_user="bench", vectordb_password="s3cret-pw"),
                               "external")
    assert result.rc != 0
    failures = failed_tasks(result)
    assert len(failures) == 1, [f["event_data"]["task"] for f in failures]
    msg = failures[0]["event_data"]["res"]["msg"]
    assert msg.startswith("cannot reach Milvus at 127.0.0.1:%d" % port) and "nothing was loaded" in msg
    assert "Traceback" not in msg
    assert "s3cret-pw" not in out
    assert list(dirs["results"].iterdir()) == []
    assert not os.path.exists(os.path.join(str(dirs["work"]), "vectordb", "credentials.json"))


def test_a_failed_run_still_stops_the_server(tmp_path, shm_base, vdb):
    dirs = dirs_for(tmp_path, shm_base, "timeout")
    port = free_port()
    # two seconds per client invocation: the server starts, then a phase is killed by its time limit
    result, out = run_playbook(tmp_path, extravars_for(dirs, port, mlperf_run_timeout=2), "timeout")
    assert result.rc != 0
    failures = failed_tasks(result)
    assert len(failures) == 1 and "ended by timeout" in failures[0]["event_data"]["res"]["msg"]
    assert "Stop the embedded database" in out
    assert not listening(port), "milvus-lite still listens after a failed play"
    assert engine_processes(dirs["data"]) == []
    # the killed phase's directory is kept and says it is incomplete
    metas = [p for p in dirs["results"].rglob("vector_database_*_metadata.json")]
    assert metas and any(json.loads(p.read_text())["complete"] is False for p in metas)


def test_the_client_refuses_an_index_the_server_cannot_build_before_loading(tmp_path, vdb):
    """Against a live server (as with an external Milvus): the index is tried on a one-row probe collection
    first, so an unbuildable one fails with exit code 4 and the benchmark collection is never created."""
    python = os.path.join(VENV, "bin", "python")
    if not os.path.exists(python):
        pytest.skip("the vectordb environment is provisioned by the playbook run")
    port = free_port()
    server = subprocess.Popen([os.path.join(VENV, "bin", "milvus-lite"), "server", "--data-dir",
                               str(tmp_path / "db"), "--host", "127.0.0.1", "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        subprocess.run([python, CLIENT, "ping", "--port", str(port), "--wait", "60"], check=True,
                       capture_output=True)
        load = subprocess.run([python, CLIENT, "load", "--port", str(port), "--collection", "probe_me",
                               "--dimension", "8", "--num-vectors", "100", "--index-type", "DISKANN",
                               "--output-dir", str(tmp_path / "out"), "--force"], capture_output=True, text=True)
        assert load.returncode == 4, load.stderr
        assert load.stderr.strip().splitlines()[-1].startswith(
            "mlperf_vdb_client: error: the server cannot build index DISKANN")
        assert "Traceback" not in load.stderr and "inserted" not in load.stdout
        listed = subprocess.run([python, CLIENT, "ping", "--port", str(port)], check=True, capture_output=True,
                                text=True)
        assert json.loads(listed.stdout)["collections"] == []
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_choosing_an_absent_upstream_client_is_one_clear_error(tmp_path, shm_base, vdb):
    dirs = dirs_for(tmp_path, shm_base, "vdbbench")
    port = free_port()
    result, out = run_playbook(tmp_path, extravars_for(dirs, port, vectordb_client="vdbbench",
                                                       vectordb_vdbbench_bin=str(tmp_path / "nowhere")), "vdbbench")
    assert result.rc != 0
    failures = failed_tasks(result)
    assert len(failures) == 1
    msg = failures[0]["event_data"]["res"]["msg"]
    assert "vectordb_client is vdbbench" in msg and "nowhere/load-vdb" in msg
    assert list(dirs["results"].iterdir()) == [] and not listening(port)
