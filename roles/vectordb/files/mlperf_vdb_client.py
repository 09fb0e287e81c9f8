#!/usr/bin/env python3
# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Vector database benchmark client of mlperf.storage.

Runs on the launcher inside the vector database environment (lock profile ``vectordb``: pymilvus and numpy).

Subcommands:
  ping    connect to Milvus (optionally retrying) and print its version and collections as JSON
  load    create the collection, build the index declared up front, insert N synthetic vectors in batches
          and write summary.json (num_vectors, dimension, inserted_vectors, index_type, timings). An existing
          collection of that name is dropped only if this client created it (its ownership mark) or with
          --drop-existing; otherwise the load stops before touching anything
  check-collection
          before the load: may the collection name be used? Reports it free, ours (to be replaced), or
          refuses a collection this client did not create (exit code 5) unless --drop-existing, which drops it
          With --expect (a search without a load, vectordb_steps [search]): nothing is dropped; the collection
          must exist, carry the mark and the load settings --expect gives, and hold every vector (exit code 5
          otherwise)
  mark    put the ownership mark on a collection another client (the upstream load-vdb) created for this run
  search  compute exact ground truth (numpy brute force over the same seeded vectors), measure recall@k,
          then drive K search processes for a fixed time or a fixed number of queries and write
          statistics.json, summary.json, recall_stats.json, result_verdict.json and config.json
  summarize  project a statistics.json (from this client or the upstream vdbbench) into summary.json
  wrap    run the upstream vdbbench as a child, then summarize its statistics.json

The pure parts (percentiles, recall, aggregation, summary projection, work split) use the standard library
only, so they can be imported and tested without pymilvus or numpy.
"""
from __future__ import annotations

import argparse
import json
import logging
import math
import os
import sys
import time

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3
EXIT_INDEX = 4
EXIT_FOREIGN = 5

PROG = "mlperf_vdb_client"
METRICS = ("COSINE", "L2", "IP")
DISTRIBUTIONS = ("uniform", "normal")
# Search-time parameter name per index family (Milvus search_params["params"]).
SEARCH_PARAM_NAMES = {
    "HNSW": "ef", "HNSW_SQ": "ef", "DISKANN": "search_list", "AISAQ": "search_list",
    "IVF_FLAT": "nprobe", "IVF_SQ8": "nprobe", "IVF_PQ": "nprobe",
}
QUERY_STREAM = 1  # seed stream of the query vectors; stream 0 is the collection's vectors
# Ownership mark of the collections this client creates: a collection property (kept by Milvus and milvus-lite),
# and the schema description (kept by Milvus; earlier versions of this client set only the description).
OWNER_PROPERTY = "mlperf_storage_created_by"
OWNER_VALUE = "mlperf.storage vector database client"
OWNER_DESCRIPTION = "mlperf.storage benchmark collection"
# Beside the mark, the load's settings (JSON, from the plan): a search without a load compares them with its own.
RECORD_PROPERTY = "mlperf_storage_load"


class ClientError(Exception):
    """A failure with a message meant for the operator and a specific exit code."""

    def __init__(self, message, code=EXIT_FAILED):
        super().__init__(message)
        self.code = code


# ------------------------------------------------------------------------------------------------
# pure parts
# ------------------------------------------------------------------------------------------------
def percentile(sorted_values, pct):
    """Linear-interpolated percentile (0-100) of an ascending list; None for an empty list."""
    if not sorted_values:
        return None
    if not 0 <= pct <= 100:
        raise ValueError("percentile must be within 0..100, got %r" % (pct,))
    pos = (len(sorted_values) - 1) * pct / 100.0
    low = int(math.floor(pos))
    high = min(low + 1, len(sorted_values) - 1)
    frac = pos - low
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * frac


def latency_stats(latencies_ms, prefix="latency"):
    """min/max/mean/median/p95/p99/p999/p9999 of a list of milliseconds, upstream field names."""
    values = sorted(float(v) for v in latencies_ms)
    out = {}
    if not values:
        for name in ("min", "max", "mean", "median", "p95", "p99", "p999", "p9999"):
            out["%s_%s_ms" % (name, prefix)] = None
        return out
    out["min_%s_ms" % prefix] = values[0]
    out["max_%s_ms" % prefix] = values[-1]
    out["mean_%s_ms" % prefix] = sum(values) / len(values)
    out["median_%s_ms" % prefix] = percentile(values, 50)
    for label, pct in (("p95", 95), ("p99", 99), ("p999", 99.9), ("p9999", 99.99)):
        out["%s_%s_ms" % (label, prefix)] = percentile(values, pct)
    return out


def recall_at_k(retrieved, truth, k):
    """Share of the k true nearest neighbours found among the first k retrieved ids."""
    if k <= 0:
        raise ValueError("k must be positive, got %r" % (k,))
    truth_set = set(list(truth)[:k])
    if not truth_set:
        return 0.0
    found = sum(1 for item in list(retrieved)[:k] if item in truth_set)
    return found / float(len(truth_set))


def recall_stats(per_query, k):
    """The recall_stats.json content (field names of the upstream client) from per-query recalls."""
    values = sorted(per_query)
    mean = sum(values) / len(values) if values else None
    return {
        "recall_at_k": mean,
        "recall_at_k_exact": mean,
        "recall_epsilon": 0.0,
        "num_queries_evaluated": len(values),
        "k": k,
        "min_recall": values[0] if values else None,
        "max_recall": values[-1] if values else None,
        "mean_recall": mean,
        "median_recall": percentile(values, 50),
        "p5_recall": percentile(values, 5),
        "p95_recall": percentile(values, 95),
        "p99_recall": percentile(values, 99),
        "per_query_recall": list(per_query),
        "recall_by_query": dict((str(i), r) for i, r in enumerate(per_query)),
    }


def split_queries(total, processes):
    """Queries per process for query-count mode: as even as possible, summing to total."""
    if processes < 1:
        raise ValueError("processes must be at least 1, got %r" % (processes,))
    if total < 0:
        raise ValueError("total queries must not be negative, got %r" % (total,))
    base, rest = divmod(total, processes)
    return [base + (1 if i < rest else 0) for i in range(processes)]


def aggregate_search(worker_results, wall_seconds, batch_size):
    """statistics.json fields from the workers' results.

    Each worker result: {"latencies_ms": [per successful batch], "queries": successful queries,
    "failed_batches": n, "errors": [text]}. QPS is successful queries over the wall time of the whole
    measured phase (all processes together), as the upstream client reports it.
    """
    latencies = []
    queries = 0
    failed = 0
    for res in worker_results:
        latencies.extend(res.get("latencies_ms") or [])
        queries += int(res.get("queries") or 0)
        failed += int(res.get("failed_batches") or 0)
    stats = {
        "total_queries": queries,
        "total_time_seconds": wall_seconds,
        "throughput_qps": (queries / wall_seconds) if wall_seconds and wall_seconds > 0 else None,
        "batch_size": batch_size,
        "batch_count": len(latencies) + failed,
        "successful_batches": len(latencies),
        "failed_batches": failed,
        "num_processes": len(worker_results),
    }
    stats.update(latency_stats(latencies, "latency"))
    # with batch_size 1 a batch is one query; the batch fields keep the upstream names either way
    stats.update(latency_stats(latencies, "batch_time"))
    return stats


def project_summary(statistics, settings):
    """summary.json: the query metrics of statistics.json plus the run settings the checks read.

    A dict recall is reduced to its mean (the upstream projection); the dict is kept as recall_detail.
    """
    summary = {}
    for key in ("num_vectors", "dimension", "index_type", "metric_type", "benchmark_mode", "database"):
        if settings.get(key) is not None:
            summary[key] = settings[key]
    for key in ("throughput_qps", "total_time_seconds", "mean_latency_ms", "median_latency_ms", "p95_latency_ms",
                "p99_latency_ms", "p999_latency_ms", "p9999_latency_ms", "min_latency_ms", "max_latency_ms",
                "failed_batches", "batch_size", "num_processes"):
        if key in statistics:
            summary[key] = statistics[key]
    summary["query_count"] = statistics.get("total_queries")
    recall = statistics.get("recall")
    if isinstance(recall, dict):
        summary["recall"] = recall.get("mean_recall", recall.get("recall_at_k"))
        summary["mean_recall"] = summary["recall"]
        summary["recall_at_k"] = recall.get("recall_at_k", summary["recall"])
        summary["recall_k"] = recall.get("k")
        summary["recall_detail"] = {k: v for k, v in recall.items()
                                    if k not in ("per_query_recall", "recall_by_query")}
    elif recall is not None:
        summary["recall"] = recall
    return summary


def result_verdict(flat_setup, recall):
    """result_verdict.json: valid only when the ground truth covers every vector and recall was measured."""
    reasons = []
    if not flat_setup.get("ok"):
        reasons.append(flat_setup.get("reason") or "ground truth setup failed")
    elif (flat_setup.get("coverage") or 0) < 1.0:
        reasons.append("ground truth covers %.1f%% of the vectors" % (100.0 * (flat_setup.get("coverage") or 0)))
    if not recall.get("num_queries_evaluated"):
        reasons.append("no query was evaluated for recall")
    valid = not reasons
    return {
        "result": "valid" if valid else "invalid",
        "valid": valid,
        "reason": "; ".join(reasons),
        "num_queries_evaluated": recall.get("num_queries_evaluated"),
        "flat_setup": flat_setup,
        "recall_summary": {k: recall.get(k) for k in ("recall_at_k", "mean_recall", "min_recall", "max_recall",
                                                       "num_queries_evaluated")},
    }


def created_by_us(description):
    """Does a describe_collection answer carry this client's ownership mark?"""
    if not isinstance(description, dict):
        return False
    properties = description.get("properties") or {}
    if isinstance(properties, dict) and properties.get(OWNER_PROPERTY) == OWNER_VALUE:
        return True
    return description.get("description") == OWNER_DESCRIPTION


def existing_collection_action(exists, ours, drop_existing):
    """What to do with the collection name before a load.

    create: nothing of that name; replace: a collection this client created (dropped and reloaded);
    drop_foreign: a collection it did not create, and the operator opted in; refuse: the same without the opt-in.
    """
    if not exists:
        return "create"
    if ours:
        return "replace"
    return "drop_foreign" if drop_existing else "refuse"


def search_readiness(uri, collection, exists, description, expected, num_vectors):
    """May a search without a load use this collection? -> None, or why not (and the way on).

    Only a collection this client loaded, with the load settings the search expects (its ground truth is
    regenerated from them) and every vector, is searched; nothing is ever dropped or changed here."""
    load_again = ("run the load first (vectordb_steps: [load] or [load, search]), or search with the settings it "
                  "was loaded with")
    if not exists:
        return "collection %s does not exist on the Milvus at %s, so there is nothing to search; %s" % (
            collection, uri, load_again)
    if not created_by_us(description):
        return ("collection %s on the Milvus at %s was not loaded by mlperf.storage (it carries no %s mark): its "
                "vectors are not the seeded ones the recall is measured against, so it is not searched (and was not "
                "changed). Load the benchmark collection under another name (vectordb_collection)"
                % (collection, uri, OWNER_PROPERTY))
    properties = description.get("properties") or {}
    try:
        recorded = json.loads(properties.get(RECORD_PROPERTY) or "null")
    except ValueError:
        recorded = None
    if not isinstance(recorded, dict):
        return ("collection %s on the Milvus at %s carries no record of the settings it was loaded with (an earlier "
                "version of mlperf.storage loaded it); %s" % (collection, uri, load_again))
    differ = sorted(key for key in set(recorded) | set(expected) if recorded.get(key) != expected.get(key))
    if differ:
        return ("collection %s on the Milvus at %s was loaded with other settings (%s); %s" % (
            collection, uri, ", ".join("%s %s, not %s" % (key, json.dumps(recorded.get(key)),
                                                          json.dumps(expected.get(key))) for key in differ),
            load_again))
    rows = description.get("row_count")
    if rows is not None and rows < num_vectors:
        return "collection %s on the Milvus at %s holds %d vectors, not %d; %s" % (
            collection, uri, rows, num_vectors, load_again)
    return None


def refusal_message(uri, collection, description=None):
    """Why a collection is not dropped, and the two ways on."""
    rows = None
    if isinstance(description, dict):
        rows = description.get("row_count")
    held = (" (%s rows)" % rows) if rows is not None else ""
    return ("collection %s already exists on the Milvus at %s%s and was not created by mlperf.storage (it carries "
            "no %s mark), so it was neither dropped nor changed and nothing was loaded. Choose another name "
            "(vectordb_collection), or set vectordb_drop_existing: true to drop it and load the benchmark "
            "collection in its place" % (collection, uri, held, OWNER_PROPERTY))


def search_params(index_type, metric_type, search_ef=None, nprobe=None):
    """Milvus search_params for the index family."""
    params = {}
    name = SEARCH_PARAM_NAMES.get(index_type.upper())
    if name in ("ef", "search_list") and search_ef:
        params[name] = int(search_ef)
    elif name == "nprobe" and nprobe:
        params[name] = int(nprobe)
    return {"metric_type": metric_type, "params": params}


def chunk_bounds(num_vectors, chunk_size):
    """(chunk index, first id, count) for every chunk of the collection."""
    if chunk_size < 1:
        raise ValueError("chunk size must be at least 1, got %r" % (chunk_size,))
    out = []
    start = 0
    index = 0
    while start < num_vectors:
        count = min(chunk_size, num_vectors - start)
        out.append((index, start, count))
        start += count
        index += 1
    return out


def fs_separation(data_path, data_device, results_path, results_device, data_mount=None, results_mount=None):
    """fs_separation.json: are the storage under test and the results on different filesystems (st_dev)?"""
    return {"data_or_chkpt_path": data_path, "results_path": results_path,
            "data_device": data_device, "results_device": results_device,
            "data_mount_point": data_mount, "results_mount_point": results_mount,
            "same_filesystem": data_device == results_device,
            "method": "st_dev of both directories on the launcher"}


def _mount_point(path):
    path = os.path.realpath(path)
    while not os.path.ismount(path):
        path = os.path.dirname(path)
    return path


def write_fs_separation(args):
    """Written into the run directory by the run itself, so the checksum manifest seals it."""
    if not (getattr(args, "storage_root", None) and getattr(args, "results_root", None)):
        return
    try:
        data_dev = os.stat(args.storage_root).st_dev
        results_dev = os.stat(args.results_root).st_dev
    except OSError as exc:
        raise ClientError("cannot compare the filesystems of %s and %s: %s" % (args.storage_root, args.results_root,
                                                                             exc), EXIT_USAGE)
    write_json(os.path.join(args.output_dir, "fs_separation.json"),
               fs_separation(args.storage_root, data_dev, args.results_root, results_dev,
                             _mount_point(args.storage_root), _mount_point(args.results_root)))


def write_json(path, data):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2, sort_keys=False)
        handle.write("\n")
    os.replace(tmp, path)


def log(message):
    sys.stdout.write("%s %s\n" % (time.strftime("%H:%M:%S"), message))
    sys.stdout.flush()


# ------------------------------------------------------------------------------------------------
# data (numpy)
# ------------------------------------------------------------------------------------------------
def _numpy():
    try:
        import numpy
    except ImportError as exc:
        raise ClientError("numpy is not installed in %s (%s); provision the vectordb environment "
                          "(lock profile vectordb)" % (sys.prefix, exc))
    return numpy


def chunk_vectors(seed, chunk_index, chunk_size, dimension, distribution, count=None):
    """The vectors of one chunk: the same for the same seed and chunk whatever the collection size."""
    np = _numpy()
    rng = np.random.default_rng([int(seed), 0, int(chunk_index)])
    if distribution == "normal":
        data = rng.standard_normal((chunk_size, dimension), dtype=np.float32)
    else:
        data = rng.random((chunk_size, dimension), dtype=np.float32)
    return data if count is None else data[:count]


def query_vectors(seed, count, dimension, distribution):
    np = _numpy()
    rng = np.random.default_rng([int(seed), QUERY_STREAM])
    if distribution == "normal":
        return rng.standard_normal((count, dimension), dtype=np.float32)
    return rng.random((count, dimension), dtype=np.float32)


def _normalized(np, matrix):
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return matrix / norms


def exact_neighbours(queries, chunks, k, metric):
    """Exact top-k ids per query by brute force over an iterable of (first id, vectors) chunks.

    Returns (ids array [n_queries, k], vectors scanned). Best first: highest similarity for COSINE/IP,
    smallest distance for L2.
    """
    np = _numpy()
    q = _normalized(np, queries) if metric == "COSINE" else queries
    n = q.shape[0]
    best_scores = np.full((n, 0), -np.inf, dtype=np.float64)
    best_ids = np.zeros((n, 0), dtype=np.int64)
    scanned = 0
    for first_id, vectors in chunks:
        x = _normalized(np, vectors) if metric == "COSINE" else vectors
        scores = q @ x.T
        if metric == "L2":  # larger is better: negate the squared distance (the |q|^2 term is constant)
            scores = 2.0 * scores - np.einsum("ij,ij->i", x, x)[None, :]
        ids = np.arange(first_id, first_id + x.shape[0], dtype=np.int64)
        take = min(k, x.shape[0])
        part = np.argpartition(-scores, take - 1, axis=1)[:, :take]
        cand_scores = np.concatenate([best_scores, np.take_along_axis(scores, part, axis=1)], axis=1)
        cand_ids = np.concatenate([best_ids, ids[part]], axis=1)
        order = np.argsort(-cand_scores, axis=1, kind="stable")[:, :k]
        best_scores = np.take_along_axis(cand_scores, order, axis=1)
        best_ids = np.take_along_axis(cand_ids, order, axis=1)
        scanned += x.shape[0]
    return best_ids, scanned


# ------------------------------------------------------------------------------------------------
# Milvus
# ------------------------------------------------------------------------------------------------
def _credentials(path):
    if not path:
        return "", ""
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError) as exc:
        raise ClientError("cannot read the credentials file %s: %s" % (path, exc), EXIT_USAGE)
    return str(data.get("user") or ""), str(data.get("password") or "")


def connect(args, wait=0.0):
    """A MilvusClient that answered list_collections, or ClientError(EXIT_UNREACHABLE)."""
    try:
        from pymilvus import MilvusClient
        # pymilvus logs every failed call with a traceback; the client reports failures itself, in one line
        logging.getLogger("pymilvus").setLevel(logging.CRITICAL)
    except ImportError as exc:
        raise ClientError("pymilvus is not installed in %s (%s); provision the vectordb environment "
                          "(lock profile vectordb)" % (sys.prefix, exc))
    user, password = _credentials(getattr(args, "credentials_file", None))
    uri = "http://%s:%s" % (args.host, args.port)
    deadline = time.time() + max(float(wait), 0.0)
    last = None
    while True:
        try:
            kwargs = {"uri": uri, "timeout": float(args.connect_timeout)}
            if user:
                kwargs.update(user=user, password=password)
            client = MilvusClient(**kwargs)
            client.list_collections()
            return client
        except Exception as exc:  # pymilvus raises several types for the same condition
            last = exc
        if time.time() >= deadline:
            break
        time.sleep(0.5)
    raise ClientError("cannot reach Milvus at %s:%s (%s). Check that the server runs and listens there, the "
                      "host and port (vectordb_host/vectordb_port) and the credentials; nothing was loaded."
                      % (args.host, args.port, _one_line(last)), EXIT_UNREACHABLE)


def _one_line(exc):
    text = str(getattr(exc, "message", None) or exc)
    return " ".join(text.split())[:400]


def server_version(client):
    try:
        return client.get_server_version()
    except Exception:  # older servers do not answer this; the version is informational
        return "unknown"


def _uri(args):
    return "http://%s:%s" % (args.host, args.port)


def _describe(client, collection):
    """describe_collection plus the row count when the server answers it; {} when it does not answer."""
    try:
        description = dict(client.describe_collection(collection) or {})
    except Exception:  # an answer that cannot be read carries no mark: treated as not ours
        return {}
    try:
        description["row_count"] = int((client.get_collection_stats(collection) or {}).get("row_count") or 0)
    except Exception:  # informational only
        pass
    return description


def settle_existing(client, args, drop_existing):
    """Apply the ownership rule to the collection name; returns the action taken (see existing_collection_action).

    Drops the collection for replace and drop_foreign; raises ClientError(EXIT_FOREIGN) for refuse.
    """
    exists = client.has_collection(args.collection)
    description = _describe(client, args.collection) if exists else {}
    action = existing_collection_action(exists, created_by_us(description), drop_existing)
    if action == "refuse":
        raise ClientError(refusal_message(_uri(args), args.collection, description), EXIT_FOREIGN)
    if action == "replace":
        client.drop_collection(args.collection)
        log("dropped the collection %s this client created earlier, to reload it" % args.collection)
    elif action == "drop_foreign":
        client.drop_collection(args.collection)
        log("dropped the collection %s at %s, which this client did not create (drop-existing was given)"
            % (args.collection, _uri(args)))
    return action


def _marks(record=None):
    """The collection properties of a collection this client loaded: the mark, and the load's settings."""
    marks = {OWNER_PROPERTY: OWNER_VALUE}
    if record:
        marks[RECORD_PROPERTY] = record
    return marks


def mark_collection(client, collection, record=None):
    """Put the ownership mark on a collection; False when the server does not keep properties."""
    try:
        client.alter_collection_properties(collection, properties=_marks(record))
    except Exception:
        return False
    return created_by_us(_describe(client, collection))


def _create_marked(client, name, schema, record=None, **kwargs):
    """Create a collection carrying the ownership mark (as a property at creation, else set right after)."""
    try:
        client.create_collection(name, schema=schema, properties=_marks(record), **kwargs)
    except TypeError:  # a pymilvus without properties= on create_collection
        client.create_collection(name, schema=schema, **kwargs)
    if not created_by_us(_describe(client, name)) and not mark_collection(client, name, record):
        log("warning: the server keeps no mark on collection %s; a later load will ask before dropping it" % name)


def cmd_check_collection(args):
    client = connect(args)
    if args.expect is not None:
        exists = client.has_collection(args.collection)
        description = _describe(client, args.collection) if exists else {}
        refusal = search_readiness(_uri(args), args.collection, exists, description, args.expect,
                                   int(args.expect.get("num_vectors") or 0))
        if refusal:
            raise ClientError(refusal, EXIT_FOREIGN)
        print(json.dumps({"uri": _uri(args), "collection": args.collection, "action": "search",
                          "rows": description.get("row_count")}))
        return EXIT_OK
    action = settle_existing(client, args, args.drop_existing)
    print(json.dumps({"uri": _uri(args), "collection": args.collection, "action": action}))
    return EXIT_OK


def cmd_mark(args):
    client = connect(args)
    if not client.has_collection(args.collection):
        raise ClientError("collection %s does not exist at %s; nothing to mark" % (args.collection, _uri(args)),
                          EXIT_USAGE)
    marked = mark_collection(client, args.collection, args.record)
    print(json.dumps({"uri": _uri(args), "collection": args.collection, "marked": marked}))
    return EXIT_OK


def cmd_ping(args):
    client = connect(args, wait=args.wait)
    print(json.dumps({"reachable": True, "host": args.host, "port": args.port,
                      "server_version": server_version(client), "collections": client.list_collections()}))
    return EXIT_OK


def _index_params(client, args):
    params = json.loads(args.index_params) if args.index_params else {}
    if not isinstance(params, dict):
        raise ClientError("--index-params must be a JSON object, got %r" % (args.index_params,), EXIT_USAGE)
    index = client.prepare_index_params()
    index.add_index(field_name="vector", index_type=args.index_type, metric_type=args.metric_type,
                    params=params)
    return index, params


def cmd_load(args):
    from pymilvus import DataType, MilvusClient

    began = time.time()
    os.makedirs(args.output_dir, exist_ok=True)
    client = connect(args)
    version = server_version(client)
    log("connected to Milvus %s at %s:%s" % (version, args.host, args.port))
    settle_existing(client, args, args.drop_existing)
    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False, description=OWNER_DESCRIPTION)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=args.dimension)
    index, index_params = _index_params(client, args)
    # An index the server cannot build must fail before a single vector is inserted: declare it on an
    # empty probe collection first. The real collection gets its index after the insert, because a
    # server may report an index declared up front as finished without building it over the rows
    # (milvus-lite does), and the build time is part of what is measured.
    # The probe gets a name of its own that is free: an existing collection is never dropped for it.
    probe = "%s_index_probe_%d" % (args.collection, os.getpid())
    while client.has_collection(probe):
        probe += "_x"
    probe_created = False
    try:
        _create_marked(client, probe, schema)
        probe_created = True
        # milvus-lite accepts any index type on an empty collection: give the probe one row
        client.insert(probe, [{"id": 0, "vector": [0.5] * args.dimension}])
        client.flush(probe)
        client.create_index(probe, index)
    except Exception as exc:
        raise ClientError("the server cannot build index %s %s with metric %s: %s; choose an index type it "
                          "supports" % (args.index_type, json.dumps(index_params), args.metric_type,
                                        _one_line(exc)), EXIT_INDEX)
    finally:
        try:
            if probe_created:
                client.drop_collection(probe)
        except Exception:  # cleanup only; the original error is the one to report
            pass
    _create_marked(client, args.collection, schema, record=args.record, num_shards=args.num_shards)
    log("created collection %s (dimension %d, metric %s); index %s %s accepted" % (
        args.collection, args.dimension, args.metric_type, args.index_type, json.dumps(index_params)))

    insert_began = time.time()
    inserted_calls = 0
    next_report = time.time() + args.report_interval
    for chunk_index, first_id, count in chunk_bounds(args.num_vectors, args.chunk_size):
        vectors = chunk_vectors(args.seed, chunk_index, args.chunk_size, args.dimension, args.distribution,
                                count=count)
        for offset in range(0, count, args.batch_size):
            rows = [{"id": first_id + offset + i, "vector": vectors[offset + i]}
                    for i in range(min(args.batch_size, count - offset))]
            client.insert(args.collection, rows)
            inserted_calls += len(rows)
        if time.time() >= next_report:
            log("inserted %d of %d vectors" % (inserted_calls, args.num_vectors))
            next_report = time.time() + args.report_interval
    client.flush(args.collection)
    insert_seconds = time.time() - insert_began
    log("inserted %d vectors in %.2f s" % (inserted_calls, insert_seconds))

    index_began = time.time()
    index, _params = _index_params(client, args)
    try:
        client.create_index(args.collection, index)
    except Exception as exc:
        raise ClientError("building index %s over %d vectors failed: %s" % (args.index_type, inserted_calls,
                                                                           _one_line(exc)), EXIT_INDEX)
    state = {}
    while True:
        state = client.describe_index(args.collection, "vector") or {}
        if not state.get("pending_index_rows") and str(state.get("state", "Finished")) == "Finished":
            break
        if str(state.get("state")) == "Failed":
            raise ClientError("index build failed on the server: %s" % state.get("index_state_fail_reason"),
                              EXIT_INDEX)
        time.sleep(0.5)
    index_seconds = time.time() - index_began
    load_began = time.time()
    client.load_collection(args.collection)
    load_seconds = time.time() - load_began
    stats = client.get_collection_stats(args.collection) or {}
    inserted = int(stats.get("row_count") or 0)
    log("index %s ready in %.2f s; collection loaded in %.2f s; %d rows" % (
        args.index_type, index_seconds, load_seconds, inserted))
    total = time.time() - began
    summary = {
        "num_vectors": args.num_vectors,
        "dimension": args.dimension,
        "inserted_vectors": inserted,
        "index_type": args.index_type,
        "metric_type": args.metric_type,
        "index_params": index_params,
        "indexed_rows": state.get("indexed_rows"),
        "collection_name": args.collection,
        "num_shards": args.num_shards,
        "vector_dtype": "FLOAT_VECTOR",
        "distribution": args.distribution,
        "seed": args.seed,
        "batch_size": args.batch_size,
        "chunk_size": args.chunk_size,
        "insert_seconds": insert_seconds,
        "insert_rate_vectors_per_second": inserted_calls / insert_seconds if insert_seconds > 0 else None,
        "index_build_seconds": index_seconds,
        "load_seconds": load_seconds,
        "total_time_seconds": total,
        "database": {"database": "milvus", "server_version": version, "host": args.host, "port": args.port},
    }
    write_json(os.path.join(args.output_dir, "summary.json"), summary)
    if inserted < args.num_vectors:
        raise ClientError("the collection holds %d vectors, %d were requested" % (inserted, args.num_vectors))
    return EXIT_OK


def _ground_truth(args, queries):
    chunks = ((first_id, chunk_vectors(args.seed, index, args.chunk_size, args.dimension, args.distribution,
                                       count=count))
              for index, first_id, count in chunk_bounds(args.num_vectors, args.chunk_size))
    return exact_neighbours(queries, chunks, args.k, args.metric_type)


def _hit_ids(hits):
    return [int(h["id"]) if isinstance(h, dict) else int(getattr(h, "id")) for h in hits]


def _search_worker(rank, args_dict, queries, share, barrier, results):
    """One search process: connect, wait for the others, search until the deadline or its share."""
    args = argparse.Namespace(**args_dict)
    out = {"rank": rank, "latencies_ms": [], "queries": 0, "failed_batches": 0, "errors": []}
    try:
        client = connect(args)
    except ClientError as exc:
        out["errors"].append(str(exc))
        barrier.abort()
        results.put(out)
        return
    params = search_params(args.index_type, args.metric_type, args.search_ef, args.nprobe)
    n = len(queries)
    position = (rank * max(n // max(args.processes, 1), 1)) % n
    barrier.wait()
    began = time.perf_counter()
    deadline = began + args.runtime if args.mode == "timed" else None
    remaining = share
    while True:
        if deadline is not None:
            if time.perf_counter() >= deadline:
                break
            size = args.batch_size
        else:
            if remaining <= 0:
                break
            size = min(args.batch_size, remaining)
        batch = [queries[(position + i) % n] for i in range(size)]
        position = (position + size) % n
        t0 = time.perf_counter()
        try:
            client.search(args.collection, data=batch, limit=args.k, search_params=params, anns_field="vector")
        except Exception as exc:
            out["failed_batches"] += 1
            if len(out["errors"]) < 5:
                out["errors"].append(_one_line(exc))
        else:
            out["latencies_ms"].append((time.perf_counter() - t0) * 1000.0)
            out["queries"] += size
        if deadline is None:
            remaining -= size
    results.put(out)


def cmd_search(args):
    import multiprocessing

    os.makedirs(args.output_dir, exist_ok=True)
    write_fs_separation(args)
    client = connect(args)
    version = server_version(client)
    if not client.has_collection(args.collection):
        raise ClientError("collection %s does not exist on %s:%s; run the load (datagen) phase first"
                          % (args.collection, args.host, args.port), EXIT_USAGE)
    client.load_collection(args.collection)
    rows = int((client.get_collection_stats(args.collection) or {}).get("row_count") or 0)
    params = search_params(args.index_type, args.metric_type, args.search_ef, args.nprobe)
    config = {
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "processes": args.processes, "batch_size": args.batch_size, "report_count": args.report_count,
        "vector_dim": args.dimension, "host": args.host, "port": str(args.port),
        "collection_name": args.collection,
        "runtime_seconds": args.runtime if args.mode == "timed" else None,
        "total_queries": args.queries if args.mode == "query_count" else None,
        "search_limit": args.k, "search_ef": args.search_ef, "num_query_vectors": args.num_query_vectors,
        "seed": args.seed, "recall_k": args.k, "query_mode": "independent", "metric_type": args.metric_type,
        "index_type": args.index_type, "search_params": params, "benchmark_mode": args.mode,
        "num_vectors": args.num_vectors, "distribution": args.distribution, "chunk_size": args.chunk_size,
        "server_version": version,
    }
    write_json(os.path.join(args.output_dir, "config.json"), config)

    # Ground truth and recall: outside the measured phase.
    gt_began = time.time()
    queries = query_vectors(args.seed, args.num_query_vectors, args.dimension, args.distribution)
    truth, scanned = _ground_truth(args, queries)
    flat_setup = {
        "ok": rows == args.num_vectors and scanned == args.num_vectors,
        "coverage": (scanned / float(rows)) if rows else 0.0,
        "total_vectors": rows,
        "copied_vectors": scanned,
        "method": "exact brute force (numpy) over the regenerated seeded vectors",
        "had_recoverable_error": False,
        "reason": "" if rows == args.num_vectors else (
            "the collection holds %d vectors, the ground truth was computed for %d" % (rows, args.num_vectors)),
        "reused": False,
        "seconds": time.time() - gt_began,
    }
    log("ground truth for %d queries over %d vectors in %.2f s" % (len(queries), scanned, flat_setup["seconds"]))
    per_query = []
    for start in range(0, len(queries), 100):
        batch = queries[start:start + 100]
        hits = client.search(args.collection, data=batch, limit=args.k, search_params=params, anns_field="vector")
        for offset, found in enumerate(hits):
            per_query.append(recall_at_k(_hit_ids(found), truth[start + offset].tolist(), args.k))
    recall = recall_stats(per_query, args.k)
    log("recall@%d %.4f over %d queries" % (args.k, recall["mean_recall"], len(per_query)))

    # The measured phase: K processes.
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(args.processes + 1)
    results = ctx.Queue()
    shares = split_queries(args.queries, args.processes) if args.mode == "query_count" else \
        [0] * args.processes
    query_list = [row.tolist() for row in queries]
    procs = [ctx.Process(target=_search_worker, args=(rank, vars(args), query_list, shares[rank], barrier, results))
             for rank in range(args.processes)]
    for proc in procs:
        proc.start()
    log("searching with %d process(es), %s" % (
        args.processes, "%s s" % args.runtime if args.mode == "timed" else "%d queries" % args.queries))
    try:
        barrier.wait(timeout=args.connect_timeout + 60)
    except Exception:  # a worker could not connect and aborted the barrier
        pass
    began = time.perf_counter()
    collected = []
    while len(collected) < len(procs):
        try:
            collected.append(results.get(timeout=5))
        except Exception:
            if not any(p.is_alive() for p in procs) and results.empty():
                break
    wall = time.perf_counter() - began
    for proc in procs:
        proc.join(timeout=30)
    errors = [e for res in collected for e in res.get("errors", [])]
    if len(collected) < len(procs) or not any(res.get("latencies_ms") for res in collected):
        raise ClientError("the search processes failed (%d of %d reported): %s"
                          % (len(collected), len(procs), "; ".join(errors[:3]) or "no error text"))
    stats = aggregate_search(collected, wall, args.batch_size)
    stats["recall"] = recall
    stats["errors"] = errors[:20]
    write_json(os.path.join(args.output_dir, "statistics.json"), stats)
    write_json(os.path.join(args.output_dir, "recall_stats.json"), recall)
    write_json(os.path.join(args.output_dir, "result_verdict.json"), result_verdict(flat_setup, recall))
    settings = {"num_vectors": args.num_vectors, "dimension": args.dimension, "index_type": args.index_type,
                "metric_type": args.metric_type, "benchmark_mode": args.mode,
                "database": {"database": "milvus", "server_version": version, "host": args.host,
                             "port": args.port}}
    write_json(os.path.join(args.output_dir, "summary.json"), project_summary(stats, settings))
    log("%d queries in %.2f s: %.1f QPS, mean %.2f ms, p99 %.2f ms, recall@%d %.4f" % (
        stats["total_queries"], wall, stats["throughput_qps"] or 0, stats["mean_latency_ms"] or 0,
        stats["p99_latency_ms"] or 0, args.k, recall["mean_recall"]))
    if stats["failed_batches"]:
        raise ClientError("%d search batches failed: %s" % (stats["failed_batches"], "; ".join(errors[:3])))
    return EXIT_OK


def cmd_wrap(args):
    """Run another client (the upstream vdbbench) as a child, then summarize its statistics.json."""
    import subprocess

    child = list(args.child)
    if child and child[0] == "--":
        child = child[1:]
    if not child:
        raise ClientError("wrap needs the command to run after --", EXIT_USAGE)
    os.makedirs(args.output_dir, exist_ok=True)
    write_fs_separation(args)
    try:
        rc = subprocess.call(child)
    except OSError as exc:
        raise ClientError("cannot start %s: %s" % (child[0], exc))
    if rc != 0:
        raise ClientError("%s ended with exit code %s" % (os.path.basename(child[0]), rc))
    return cmd_summarize(args)


def cmd_summarize(args):
    path = os.path.join(args.output_dir, "statistics.json")
    try:
        with open(path, encoding="utf-8") as handle:
            stats = json.load(handle)
    except (OSError, ValueError) as exc:
        raise ClientError("cannot read %s: %s" % (path, exc))
    if not isinstance(stats, dict):
        raise ClientError("%s must hold a JSON object" % path)
    settings = {"num_vectors": args.num_vectors, "dimension": args.dimension, "index_type": args.index_type,
                "metric_type": args.metric_type, "benchmark_mode": args.mode,
                "database": {"database": "milvus", "host": args.host, "port": args.port}}
    write_json(os.path.join(args.output_dir, "summary.json"), project_summary(stats, settings))
    return EXIT_OK


# ------------------------------------------------------------------------------------------------
# command line
# ------------------------------------------------------------------------------------------------
def _positive(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1, got %s" % text)
    return value


def _json_object(text):
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError("not JSON: %s" % exc)
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("must be a JSON object, got %s" % text)
    return value


def build_parser():
    parser = argparse.ArgumentParser(prog=PROG, description="mlperf.storage vector database client")
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p):
        p.add_argument("--host", default="127.0.0.1")
        p.add_argument("--port", type=int, default=19530)
        p.add_argument("--credentials-file", help="JSON file with user and password (mode 0600)")
        p.add_argument("--connect-timeout", type=float, default=10.0)

    def dataset(p):
        p.add_argument("--collection", required=True)
        p.add_argument("--dimension", type=_positive, required=True)
        p.add_argument("--num-vectors", type=_positive, required=True)
        p.add_argument("--seed", type=int, default=42)
        p.add_argument("--chunk-size", type=_positive, default=10000)
        p.add_argument("--distribution", choices=DISTRIBUTIONS, default="uniform")
        p.add_argument("--index-type", required=True, type=str.upper)
        p.add_argument("--metric-type", choices=METRICS, default="COSINE", type=str.upper)
        p.add_argument("--output-dir", required=True)

    def fs_args(p):
        p.add_argument("--storage-root", help="the storage under test (for fs_separation.json)")
        p.add_argument("--results-root", help="the results directory (for fs_separation.json)")

    def command(name, help_text, func, *groups):
        p = sub.add_parser(name, help=help_text)
        for group in groups:
            group(p)
        p.set_defaults(func=func)
        return p

    ping = command("ping", "check that Milvus answers", cmd_ping, common)
    ping.add_argument("--wait", type=float, default=0.0, help="keep retrying for this many seconds")

    load = command("load", "create, index and load the collection", cmd_load, common, dataset)
    load.add_argument("--batch-size", type=_positive, default=1000)
    load.add_argument("--num-shards", type=_positive, default=1)
    load.add_argument("--index-params", default="{}", help="JSON object of index build parameters")
    load.add_argument("--drop-existing", "--force", dest="drop_existing", action="store_true",
                      help="also drop an existing collection of that name that this client did not create")
    load.add_argument("--report-interval", type=float, default=10.0)
    load.add_argument("--record", help="the load's settings (JSON) to record on the collection for later searches")

    check = command("check-collection", "may the collection name be loaded into? (before the load)",
                    cmd_check_collection, common)
    check.add_argument("--collection", required=True)
    check.add_argument("--drop-existing", action="store_true",
                       help="drop an existing collection of that name that this client did not create")
    check.add_argument("--expect", type=_json_object, default=None,
                       help="a search without a load: the load settings (JSON) the collection must carry; "
                            "nothing is dropped")

    mark = command("mark", "mark a collection loaded by another client for this run as ours", cmd_mark, common)
    mark.add_argument("--collection", required=True)
    mark.add_argument("--record", help="the load's settings (JSON) to record on the collection")

    search = command("search", "measure recall and search throughput", cmd_search, common, dataset)
    search.add_argument("--processes", type=_positive, default=1)
    search.add_argument("--batch-size", type=_positive, default=1)
    search.add_argument("--mode", choices=("timed", "query_count"), default="timed")
    search.add_argument("--runtime", type=float, default=60.0)
    search.add_argument("--queries", type=int, default=0)
    search.add_argument("--num-query-vectors", type=_positive, default=1000)
    search.add_argument("--k", type=_positive, default=10)
    search.add_argument("--search-ef", type=int, default=None)
    search.add_argument("--nprobe", type=int, default=None)
    search.add_argument("--report-count", type=int, default=100)
    fs_args(search)

    def summary_settings(p):
        p.add_argument("--output-dir", required=True)
        p.add_argument("--num-vectors", type=int)
        p.add_argument("--dimension", type=int)
        p.add_argument("--index-type", type=str.upper)
        p.add_argument("--metric-type", type=str.upper)
        p.add_argument("--mode")
        p.add_argument("--host")
        p.add_argument("--port", type=int)

    command("summarize", "write summary.json from statistics.json", cmd_summarize, summary_settings)
    wrap = command("wrap", "run another client after --, then summarize its statistics.json", cmd_wrap,
                   summary_settings, fs_args)
    wrap.add_argument("child", nargs=argparse.REMAINDER)
    return parser


def validate(args):
    """Cross-option checks argparse cannot express; returns a message or None."""
    if args.command == "search":
        if args.mode == "timed" and args.runtime <= 0:
            return "--runtime must be positive in timed mode, got %s" % args.runtime
        if args.mode == "query_count" and args.queries < 1:
            return "--queries must be at least 1 in query_count mode, got %s" % args.queries
    if args.command in ("load", "search") and args.index_type in ("", None):
        return "--index-type must name an index type"
    return None


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    problem = validate(args)
    if problem:
        parser.error(problem)
    try:
        return args.func(args)
    except ClientError as exc:
        sys.stderr.write("%s: error: %s\n" % (PROG, exc))
        return exc.code
    except KeyboardInterrupt:
        sys.stderr.write("%s: interrupted\n" % PROG)
        return 130
    except Exception as exc:  # unexpected: one line for the operator, the details after it for the log
        import traceback

        sys.stderr.write("%s: error: %s: %s\n" % (PROG, type(exc).__name__, _one_line(exc)))
        traceback.print_exc()
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
