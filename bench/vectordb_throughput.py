#!/usr/bin/env python3
# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Load and search throughput of the embedded vector database default (milvus-lite, HNSW) at several scales.

    .venv/bin/python bench/vectordb_throughput.py [--scales 10000 100000] [--venv /var/tmp/mlperf-storage/venv-vectordb]
                                                  [--queries N] [--processes N] [--json out.json]

Runs exactly the command lines the playbook runs: the plan (plugins/plugin_utils/_vectordb.py) is built from
roles/vectordb/defaults/main.yml with only the number of vectors changed, then milvus-lite is started on a free
loopback port with its data in a temporary directory, the collection is loaded and one search run is made per
scale. Needs the vectordb environment (run playbooks/run_vectordb.yml once, or install the lock
roles/python_env/files/locks/vectordb.txt into --venv). Prints one table row per scale.
A quick run: --scales 2000 --queries 100.
"""
import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import yaml

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, ".collections"))

from ansible_collections.mlperf.storage.plugins.plugin_utils import _vectordb  # noqa: E402

CLIENT = os.path.join(REPO, "roles", "vectordb", "files", "mlperf_vdb_client.py")


def role_defaults():
    with open(os.path.join(REPO, "roles", "vectordb", "defaults", "main.yml")) as handle:
        return yaml.safe_load(handle)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def plan_for(defaults, num_vectors, port, tmp, venv, queries, processes):
    d = defaults
    req = {
        "edition": "3.0", "division": "open", "server_mode": "embedded", "client": "builtin",
        "index_type": d["vectordb_index_type"], "metric_type": d["vectordb_metric_type"],
        "index_params": d["vectordb_index_params"], "dimension": d["vectordb_dimension"],
        "num_vectors": num_vectors, "distribution": d["vectordb_distribution"], "seed": d["vectordb_seed"],
        "chunk_size": d["vectordb_chunk_size"], "load_batch_size": d["vectordb_load_batch_size"],
        "num_shards": d["vectordb_num_shards"], "collection": "", "mode": "query_count",
        "runtime": d["vectordb_runtime"], "queries": queries or d["vectordb_queries"],
        "processes": processes or d["vectordb_processes"], "batch_size": d["vectordb_batch_size"],
        "k": d["vectordb_recall_k"], "search_ef": d["vectordb_search_ef"], "nprobe": d["vectordb_nprobe"],
        "num_query_vectors": d["vectordb_num_query_vectors"], "report_count": d["vectordb_report_count"],
        "runs": 1, "host": "127.0.0.1", "port": port, "connect_timeout": 10, "credentials_file": "",
        "paths": {"data_dir": os.path.join(tmp, "data"), "results_dir": os.path.join(tmp, "results"),
                  "work_dir": os.path.join(tmp, "work"), "venv_bin": os.path.join(venv, "bin"), "client_script": CLIENT,
                  "vdbbench_bin": ""},
        "org": "bench", "system": "localhost", "allow_invalid": True, "engine": {},
    }
    plan = _vectordb.plan_vectordb(req)
    if plan["errors"]:
        raise SystemExit("the plan has problems: %s" % json.dumps(plan["errors"], indent=1))
    return plan


def run_phase(argv, out_dir, label):
    os.makedirs(out_dir)
    argv = [a.replace(_vectordb.RUN_DIR_TOKEN, out_dir) for a in argv]
    began = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True)
    elapsed = time.perf_counter() - began
    if proc.returncode != 0:
        raise SystemExit("%s failed (exit %d):\n%s" % (label, proc.returncode, proc.stderr[-3000:]))
    with open(os.path.join(out_dir, "summary.json")) as handle:
        return json.load(handle), elapsed


def bench_scale(defaults, num_vectors, venv, queries, processes):
    tmp = tempfile.mkdtemp(prefix="vdb-bench-")
    port = free_port()
    plan = plan_for(defaults, num_vectors, port, tmp, venv, queries, processes)
    for name in ("results", "work"):  # the data directory is made with the server's below
        os.makedirs(os.path.join(tmp, name))
    os.makedirs(plan["paths"]["server_data_dir"])
    server = subprocess.Popen(plan["server"]["argv"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    try:
        subprocess.run([os.path.join(venv, "bin", "python"), CLIENT, "ping", "--port", str(port), "--wait", "60"],
                       check=True, capture_output=True)
        load, load_wall = run_phase(plan["commands"]["datagen"]["argv"], os.path.join(tmp, "load"), "load")
        search, search_wall = run_phase(plan["commands"]["run"]["argv"], os.path.join(tmp, "search"), "search")
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        shutil.rmtree(tmp, ignore_errors=True)
    return {"vectors": num_vectors, "dim": plan["settings"]["dimension"], "index": plan["index_type"],
            "insert_s": load["insert_seconds"], "insert_vps": load["insert_rate_vectors_per_second"],
            "index_s": load["index_build_seconds"], "load_wall_s": load_wall,
            "queries": search["query_count"], "processes": plan["settings"]["processes"],
            "qps": search["throughput_qps"], "mean_ms": search["mean_latency_ms"], "p99_ms": search["p99_latency_ms"],
            "recall": search["recall"], "search_wall_s": search_wall}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", type=int, nargs="+", default=[10000, 100000])
    parser.add_argument("--venv", default="/var/tmp/mlperf-storage/venv-vectordb")
    parser.add_argument("--queries", type=int, default=0, help="queries per search run (0: role default)")
    parser.add_argument("--processes", type=int, default=0, help="search processes (0: role default)")
    parser.add_argument("--json", help="also write the rows here")
    args = parser.parse_args()
    if not os.path.exists(os.path.join(args.venv, "bin", "milvus-lite")):
        raise SystemExit("no milvus-lite in %s: run playbooks/run_vectordb.yml once (it installs the vectordb lock "
                         "there), or pass --venv" % args.venv)
    defaults = role_defaults()
    rows = [bench_scale(defaults, n, args.venv, args.queries, args.processes) for n in args.scales]
    header = ("vectors", "dim", "index", "insert s", "insert vec/s", "index s", "load wall s", "queries", "procs",
              "QPS", "mean ms", "p99 ms", "recall@10", "search wall s")
    keys = ("vectors", "dim", "index", "insert_s", "insert_vps", "index_s", "load_wall_s", "queries", "processes",
            "qps", "mean_ms", "p99_ms", "recall", "search_wall_s")
    cells = [[("%.4f" % r[k] if k == "recall" else "%.1f" % r[k]) if isinstance(r[k], float) else str(r[k])
              for k in keys] for r in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(header)]
    print("  ".join(h.rjust(w) for h, w in zip(header, widths)))
    for c in cells:
        print("  ".join(v.rjust(w) for v, w in zip(c, widths)))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(rows, handle, indent=1)


if __name__ == "__main__":
    main()
