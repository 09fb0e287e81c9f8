# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The vector database client drops only collections mlperf.storage created, against a real milvus-lite server.

A collection made by someone else (no ownership mark) is refused by check-collection and by load, with the URI and
the way on, and keeps every row; with --drop-existing it is dropped. A collection the client loaded carries the
mark and is replaced by the next load without asking; the index probe never touches a collection it did not make.
Uses the vectordb environment the playbook provisions (or MLPERF_VECTORDB_VENV).
"""
import json
import os
import socket
import subprocess

import pytest

from _testpaths import REPO

pytestmark = pytest.mark.integration

CLIENT = os.path.join(REPO, "roles", "vectordb", "files", "mlperf_vdb_client.py")
VENVS = [os.environ.get("MLPERF_VECTORDB_VENV") or "", "/var/tmp/mlperf-storage/venv-vectordb"]

HELPER = r"""
import json, sys
from pymilvus import DataType, MilvusClient
port, action, name = sys.argv[1], sys.argv[2], sys.argv[3]
c = MilvusClient(uri="http://127.0.0.1:%s" % port, timeout=10)
if action == "foreign":
    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False, description="team embeddings")
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=4)
    c.create_collection(name, schema=schema)
    c.insert(name, [{"id": i, "vector": [0.1 * i, 0.2, 0.3, 0.4]} for i in range(7)])
    c.flush(name)
    print("{}")
else:
    out = {"collections": sorted(c.list_collections())}
    if c.has_collection(name):
        c.load_collection(name)
        out["rows"] = int((c.get_collection_stats(name) or {}).get("row_count") or 0)
        out["properties"] = c.describe_collection(name).get("properties") or {}
    print(json.dumps(out))
"""


def venv_python():
    for venv in VENVS:
        if venv and os.path.exists(os.path.join(venv, "bin", "milvus-lite")):
            return os.path.join(venv, "bin", "python"), os.path.join(venv, "bin", "milvus-lite")
    pytest.skip("no vectordb environment (run the vectordb playbook once, or set MLPERF_VECTORDB_VENV)")


@pytest.fixture(scope="module")
def milvus(tmp_path_factory):
    python, server_bin = venv_python()
    base = tmp_path_factory.mktemp("vdb-ownership")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen([server_bin, "server", "--data-dir", str(base / "db"), "--host", "127.0.0.1",
                               "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    try:
        subprocess.run([python, CLIENT, "ping", "--port", str(port), "--wait", "60"], check=True,
                       capture_output=True, timeout=120)
        yield {"python": python, "port": port, "base": base}
    finally:
        server.terminate()
        server.wait(timeout=30)


def helper(milvus, action, name):
    proc = subprocess.run([milvus["python"], "-c", HELPER, str(milvus["port"]), action, name], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def client(milvus, *argv):
    return subprocess.run([milvus["python"], CLIENT, argv[0], "--port", str(milvus["port"])] + list(argv[1:]),
                          capture_output=True, text=True, timeout=300)


def load(milvus, name, *more):
    return client(milvus, "load", "--collection", name, "--dimension", "8", "--num-vectors", "200",
                  "--chunk-size", "100", "--batch-size", "100", "--index-type", "HNSW",
                  "--output-dir", str(milvus["base"] / ("out-" + name)), *more)


def test_a_foreign_collection_is_refused_and_keeps_its_rows(milvus):
    helper(milvus, "foreign", "team_vectors")
    for proc in (client(milvus, "check-collection", "--collection", "team_vectors"), load(milvus, "team_vectors")):
        assert proc.returncode == 5, proc.stderr
        last = proc.stderr.strip().splitlines()[-1]
        assert last.startswith("mlperf_vdb_client: error: collection team_vectors already exists on the Milvus at "
                               "http://127.0.0.1:%d (7 rows) and was not created by mlperf.storage" % milvus["port"])
        assert "vectordb_drop_existing: true" in last and "Traceback" not in proc.stderr
    after = helper(milvus, "show", "team_vectors")
    assert after["rows"] == 7 and after["properties"] == {}
    assert after["collections"] == ["team_vectors"]  # no probe collection left behind


def test_our_collection_is_marked_and_replaced_without_asking(milvus):
    # a collection someone named like our index probe is not ours to drop
    helper(milvus, "foreign", "bench_index_probe")
    first = load(milvus, "bench")
    assert first.returncode == 0, first.stderr
    shown = helper(milvus, "show", "bench")
    assert shown["rows"] == 200 and shown["properties"].get("mlperf_storage_created_by")
    check = client(milvus, "check-collection", "--collection", "bench")
    assert check.returncode == 0 and json.loads(check.stdout.strip().splitlines()[-1])["action"] == "replace"
    assert "this client created earlier" in check.stdout
    second = load(milvus, "bench")
    assert second.returncode == 0, second.stderr
    assert "dropped" not in second.stdout  # check-collection dropped it already: the load found the name free
    third = load(milvus, "bench")
    assert third.returncode == 0 and "this client created earlier" in third.stdout
    assert helper(milvus, "show", "bench_index_probe")["rows"] == 7
    assert [n for n in helper(milvus, "show", "bench")["collections"] if "probe" in n] == ["bench_index_probe"]


def test_the_opt_in_drops_a_foreign_collection(milvus):
    helper(milvus, "foreign", "old_vectors")
    proc = client(milvus, "check-collection", "--collection", "old_vectors", "--drop-existing")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1])["action"] == "drop_foreign"
    assert "old_vectors" not in helper(milvus, "show", "old_vectors")["collections"]
