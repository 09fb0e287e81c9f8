# -*- coding: utf-8 -*-
# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The vector database benchmark: backends, index catalogue, command builders and the plan.

Plain Python, run on the controller. The plan decides everything before anything starts: which index the
backend can build (an impossible one is an error), the client command lines of the load (datagen) phase
and of each search run, the milvus-lite server command, the results paths
(``vector_database/<engine>/<INDEX>/<command>/<ts>``, rules.md §8.2), the metadata skeleton and the rules
engine's classification of the planned run. Problems are collected, never raised.
"""
from __future__ import annotations

import copy
import json
import re

from ansible_collections.mlperf.storage.plugins.plugin_utils import _workloads
from ansible_collections.mlperf.storage.plugins.plugin_utils._plan_core import RUN_DIR_TOKEN, plan_function, problem

CLIENT_SCRIPT = "mlperf_vdb_client.py"
ENGINE_DIR = "milvus"  # the results path's engine segment: both backends speak the Milvus API

# What each backend can build. milvus-lite 3.2.2 (faiss-cpu) lacks the disk indexes (spec engines.md §4) and,
# measured, refuses IVF_PQ ("reserved for a future phase") while it builds IVF_SQ8.
BACKENDS = {
    "milvus-lite": {
        "indexes": ("AUTOINDEX", "BRUTE_FORCE", "FLAT", "HNSW", "HNSW_SQ", "IVF_FLAT", "IVF_SQ8"),
        "description": "the embedded milvus-lite server on the launcher",
    },
    "milvus": {
        "indexes": ("AISAQ", "AUTOINDEX", "DISKANN", "FLAT", "HNSW", "HNSW_SQ", "IVF_FLAT", "IVF_PQ", "IVF_SQ8",
                    "SCANN"),
        "description": "an existing Milvus deployment",
    },
}
SERVER_MODES = {"embedded": "milvus-lite", "external": "milvus"}
CLIENTS = ("builtin", "vdbbench")
METRICS = ("COSINE", "L2", "IP")
MODES = ("timed", "query_count")
STEPS = ("load", "search")  # vectordb_steps: the load (datagen) and the search runs, either alone or both
# The settings that make a loaded collection what a search run expects (its vectors, hence the ground truth, and
# its index); recorded on the collection by the load and compared by a search-only play (collection_record).
RECORD_KEYS = ("num_vectors", "dimension", "distribution", "seed", "chunk_size", "num_shards", "index_type",
               "metric_type", "index_params")

_COLLECTION_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")



def _one_of(planner, variable, value, choices):
    """``value`` when it is one of ``choices`` ((name, what it means), ...); else the plan stops naming them."""
    names = [name for name, _meaning in choices]
    if value not in names:
        planner.fail(variable, "%s is %r; expected %s" % (variable, value, " or ".join(names)),
                     "use " + " or ".join("%s (%s)" % choice for choice in choices))
        planner.stop()
    return value

def collection_name(num_vectors, num_shards, dimension, distribution):
    """Collection name in the upstream style, e.g. mlps_10k_1shards_128dim_uniform."""
    for size, suffix in ((1000000000, "b"), (1000000, "m"), (1000, "k")):
        if num_vectors >= size and num_vectors % size == 0:
            scale = "%d%s" % (num_vectors // size, suffix)
            break
    else:
        scale = str(num_vectors)
    return "mlps_%s_%dshards_%ddim_%s" % (scale, num_shards, dimension, distribution)


def index_params(edition, index_type, overrides=None):
    """Build parameters: the edition's reference values for the index, updated with explicit ones."""
    params = edition.vector_index_defaults(index_type)
    params.update(overrides or {})
    return params


# ------------------------------------------------------------------------------------------------
# command builders
# ------------------------------------------------------------------------------------------------
def _connection(settings):
    argv = ["--host", str(settings["host"]), "--port", str(settings["port"]),
            "--connect-timeout", str(settings["connect_timeout"])]
    if settings.get("credentials_file"):
        argv += ["--credentials-file", settings["credentials_file"]]
    return argv


def _dataset(settings):
    return ["--collection", settings["collection"], "--dimension", str(settings["dimension"]),
            "--num-vectors", str(settings["num_vectors"]), "--seed", str(settings["seed"]),
            "--chunk-size", str(settings["chunk_size"]), "--distribution", settings["distribution"],
            "--index-type", settings["index_type"], "--metric-type", settings["metric_type"],
            "--output-dir", RUN_DIR_TOKEN]


def collection_record(settings):
    """What the load records on the collection (as JSON, beside the ownership mark): the settings a later
    search-only play must find there, since its ground truth is regenerated from them."""
    return json.dumps({key: settings[key] for key in RECORD_KEYS}, sort_keys=True)


def client_load_argv(python, script, settings):
    """Our client's load phase: create the collection with its index, insert, wait for the index.

    No --drop-existing: the client replaces only a collection it created; one it did not create was refused, or
    dropped with vectordb_drop_existing, by roles/vectordb before the load (check-collection)."""
    return ([python, script, "load"] + _connection(settings) + _dataset(settings) +
            ["--batch-size", str(settings["load_batch_size"]), "--num-shards", str(settings["num_shards"]),
             "--index-params", json.dumps(settings["index_params"], sort_keys=True),
             "--record", collection_record(settings)])


def client_search_argv(python, script, settings):
    """Our client's search run: ground truth and recall, then K processes of timed or counted searches."""
    argv = ([python, script, "search"] + _connection(settings) + _dataset(settings) +
            ["--processes", str(settings["processes"]), "--batch-size", str(settings["batch_size"]),
             "--mode", settings["mode"], "--num-query-vectors", str(settings["num_query_vectors"]),
             "--k", str(settings["k"]), "--report-count", str(settings["report_count"])] + _search_length(settings))
    if settings.get("nprobe"):
        argv += ["--nprobe", str(settings["nprobe"])]
    return argv + _fs_roots(settings)


def _search_length(settings):
    """How long a search run goes (a run time or a query count) and its ef, in the flags both clients share."""
    argv = (["--runtime", str(settings["runtime"])] if settings["mode"] == "timed"
            else ["--queries", str(settings["queries"])])
    if settings.get("search_ef"):
        argv += ["--search-ef", str(settings["search_ef"])]
    return argv


def _fs_roots(settings):
    """The client's own fs_separation.json (kept for running it by hand); under run_phase the
    mlperf.storage.fs_separation module writes the record that is sealed, over this one."""
    if settings.get("storage_root") and settings.get("results_root"):
        return ["--storage-root", settings["storage_root"], "--results-root", settings["results_root"]]
    return []


def vdbbench_load_argv(bin_dir, settings):
    """The upstream load-vdb command line (rules.md §6.1/§6.2)."""
    return [bin_dir.rstrip("/") + "/load-vdb", "--host", str(settings["host"]), "--port", str(settings["port"]),
            "--collection-name", settings["collection"], "--dimension", str(settings["dimension"]),
            "--num-shards", str(settings["num_shards"]), "--vector-dtype", "FLOAT_VECTOR",
            "--num-vectors", str(settings["num_vectors"]), "--distribution", settings["distribution"],
            "--batch-size", str(settings["load_batch_size"]), "--chunk-size", str(settings["chunk_size"]),
            # --force drops what is there: roles/vectordb has made sure beforehand (check-collection) that it is
            # a collection of this run's own or one vectordb_drop_existing allows to drop
            "--index-type", settings["index_type"], "--force"]


def vdbbench_search_argv(bin_dir, settings):
    """The upstream vdbbench (simple_bench) command line (rules.md §6.2)."""
    return [bin_dir.rstrip("/") + "/vdbbench", "--host", str(settings["host"]), "--port", str(settings["port"]),
            "--collection-name", settings["collection"], "--processes", str(settings["processes"]),
            "--batch-size", str(settings["batch_size"]), "--report-count", str(settings["report_count"]),
            "--output-dir", RUN_DIR_TOKEN, "--vector-dim", str(settings["dimension"]),
            "--search-limit", str(settings["k"]), "--num-query-vectors", str(settings["num_query_vectors"]),
            "--json-output"] + _search_length(settings)


def wrapped_argv(python, script, settings, child):
    """Run the upstream client under ours: fs_separation.json first, then summary.json from its statistics.json."""
    return ([python, script, "wrap", "--output-dir", RUN_DIR_TOKEN,
             "--num-vectors", str(settings["num_vectors"]), "--dimension", str(settings["dimension"]),
             "--index-type", settings["index_type"], "--metric-type", settings["metric_type"],
             "--mode", settings["mode"], "--host", str(settings["host"]), "--port", str(settings["port"])]
            + _fs_roots(settings) + ["--"] + list(child))


def server_argv(bin_dir, data_dir, port):
    """milvus-lite in server mode, bound to loopback only (spec engines.md §4)."""
    return [bin_dir.rstrip("/") + "/milvus-lite", "server", "--data-dir", data_dir, "--host", "127.0.0.1",
            "--port", str(port)]


# ------------------------------------------------------------------------------------------------
# the plan
# ------------------------------------------------------------------------------------------------
def _int_setting(errors, raw, variable, minimum=1, allow_none=False):
    if raw is None and allow_none:
        return None
    try:
        if isinstance(raw, bool) or float(raw) != int(float(raw)):
            raise ValueError
        value = int(float(raw))
    except (TypeError, ValueError):
        errors.append(problem(variable, "%s is %r; it must be a whole number" % (variable, raw),
                             "set %s to a whole number of at least %d" % (variable, minimum)))
        return None
    if value < minimum:
        errors.append(problem(variable, "%s is %d; it must be at least %d" % (variable, value, minimum),
                             "set %s to at least %d" % (variable, minimum)))
        return None
    return value


def _settings(req, edition, errors):
    """Validated client settings from the request; None values where a setting was rejected."""
    s = {}
    s["host"] = str(req.get("host") or "127.0.0.1")
    s["port"] = _int_setting(errors, req.get("port", 19530), "vectordb_port", 1)
    if s["port"] is not None and s["port"] > 65535:
        errors.append(problem("vectordb_port", "vectordb_port is %d; a TCP port is 1..65535" % s["port"],
                             "set vectordb_port to the Milvus port (19530 by default)"))
    s["connect_timeout"] = req.get("connect_timeout", 10)
    s["credentials_file"] = req.get("credentials_file") or ""
    index = str(req.get("index_type") or "").strip().upper()
    s["index_type"] = index
    metric = str(req.get("metric_type") or "COSINE").upper()
    if metric not in METRICS:
        errors.append(problem("vectordb_metric_type", "vectordb_metric_type is %r; expected one of %s"
                             % (req.get("metric_type"), ", ".join(METRICS)), "use COSINE (the reference)"))
    s["metric_type"] = metric
    for key, variable, minimum in (("dimension", "vectordb_dimension", 1), ("num_vectors", "vectordb_num_vectors", 1),
                                   ("chunk_size", "vectordb_chunk_size", 1),
                                   ("load_batch_size", "vectordb_load_batch_size", 1),
                                   ("num_shards", "vectordb_num_shards", 1), ("processes", "vectordb_processes", 1),
                                   ("batch_size", "vectordb_batch_size", 1), ("k", "vectordb_recall_k", 1),
                                   ("num_query_vectors", "vectordb_num_query_vectors", 1),
                                   ("report_count", "vectordb_report_count", 1), ("seed", "vectordb_seed", 0)):
        s[key] = _int_setting(errors, req.get(key), variable, minimum)
    distribution = str(req.get("distribution") or "uniform")
    if distribution not in ("uniform", "normal"):
        errors.append(problem("vectordb_distribution", "vectordb_distribution is %r; expected uniform or normal"
                             % distribution, "use uniform (the reference)"))
    s["distribution"] = distribution
    mode = str(req.get("mode") or "timed")
    if mode not in MODES:
        errors.append(problem("vectordb_mode", "vectordb_mode is %r; expected one of %s" % (mode, ", ".join(MODES)),
                             "use timed (a fixed run time) or query_count (a fixed number of queries)"))
    s["mode"] = mode
    s["runtime"] = _int_setting(errors, req.get("runtime"), "vectordb_runtime", 1) if mode == "timed" else None
    s["queries"] = _int_setting(errors, req.get("queries"), "vectordb_queries", 1) if mode == "query_count" \
        else None
    s["search_ef"] = _int_setting(errors, req.get("search_ef"), "vectordb_search_ef", 1, allow_none=True)
    s["nprobe"] = _int_setting(errors, req.get("nprobe"), "vectordb_nprobe", 1, allow_none=True)
    overrides = req.get("index_params") or {}
    if not isinstance(overrides, dict):
        errors.append(problem("vectordb_index_params", "vectordb_index_params is a %s; it must be a mapping"
                             % type(overrides).__name__, "write it as a mapping, e.g. {M: 32}"))
        overrides = {}
    s["index_params"] = index_params(edition, index, overrides)
    collection = req.get("collection") or ""
    if not collection and None not in (s["num_vectors"], s["num_shards"], s["dimension"]):
        collection = collection_name(s["num_vectors"], s["num_shards"], s["dimension"], distribution)
    if collection and not _COLLECTION_RE.match(collection):
        errors.append(problem("vectordb_collection", "vectordb_collection %r is not a Milvus collection name"
                             % collection, "use letters, digits and underscores, starting with a letter"))
    s["collection"] = collection
    steps = req.get("steps")
    steps = list(STEPS) if steps is None else steps
    if (not isinstance(steps, (list, tuple)) or not steps or any(step not in STEPS for step in steps)
            or len(set(map(str, steps))) != len(steps)):
        errors.append(problem("vectordb_steps", "vectordb_steps is %s; it must be a list of the steps to take, "
                              "load and/or search" % json.dumps(steps),
                              "use [load, search] (the default: load the collection, then search it), [load] (only "
                              "load), or [search] (search the collection an earlier load left on the database)"))
        steps = list(STEPS)
    s["steps"] = [step for step in STEPS if step in steps]
    if s["search_ef"] and s["k"] and index in ("HNSW", "HNSW_SQ", "DISKANN", "AISAQ") and s["search_ef"] < s["k"]:
        errors.append(problem("vectordb_search_ef", "vectordb_search_ef (%d) is below vectordb_recall_k (%d); a %s "
                             "search keeps only ef candidates, so recall@k would be meaningless"
                             % (s["search_ef"], s["k"], index), "set vectordb_search_ef to at least %d" % s["k"]))
    if s["chunk_size"] and s["load_batch_size"] and s["load_batch_size"] > s["chunk_size"]:
        errors.append(problem("vectordb_load_batch_size", "vectordb_load_batch_size (%d) is larger than "
                             "vectordb_chunk_size (%d); a batch is cut from one chunk"
                             % (s["load_batch_size"], s["chunk_size"]),
                             "make the batch size at most the chunk size"))
    return s


def parameters_of(plan):
    """The run's parameters in the upstream dotted groups (rules.md §6.2 CLOSED tunables)."""
    s = plan["settings"]
    return {
        "database": {"database": "milvus", "backend": plan["backend"], "host": s["host"], "port": s["port"]},
        "index": dict({"index_type": s["index_type"], "metric_type": s["metric_type"]}, **s["index_params"]),
        "search": {"search_ef": s["search_ef"], "nprobe": s["nprobe"], "k": s["k"]},
        "run": {"mode": s["mode"], "runtime": s["runtime"], "queries": s["queries"],
                "num_query_processes": s["processes"], "batch_size": s["batch_size"],
                "report_count": s["report_count"], "num_query_vectors": s["num_query_vectors"]},
        "dataset": {"collection_name": s["collection"], "num_vectors": s["num_vectors"],
                    "dimension": s["dimension"], "num_shards": s["num_shards"], "chunk_size": s["chunk_size"],
                    "batch_size": s["load_batch_size"], "vector_dtype": "FLOAT_VECTOR",
                    "distribution": s["distribution"], "seed": s["seed"]},
        "storage": {"storage_root": plan["paths"]["storage_root"], "storage_type": "local_fs"},
    }


def planned_metadata(planner, plan):
    """Metadata known before the run (rules.md §8.3, with the vector-database fields of the upstream tool)."""
    s, req = plan["settings"], planner.req
    args = {
        "closed": plan["division"] == "closed", "benchmark": "vectordb",
        "vdb_engine": ENGINE_DIR, "vdb_backend": plan["backend"], "vdb_index": s["index_type"],
        "vdb_client": plan["client"], "host": s["host"], "port": s["port"], "collection": s["collection"],
        "num_query_processes": s["processes"], "batch_size": s["batch_size"], "report_count": s["report_count"],
        "benchmark_mode": s["mode"], "runtime": s["runtime"], "queries": s["queries"],
        "vector_dim": s["dimension"], "dimension": s["dimension"], "num_vectors": s["num_vectors"],
        "index_type": s["index_type"], "metric_type": s["metric_type"], "num_shards": s["num_shards"],
        "vector_dtype": "FLOAT_VECTOR", "distribution": s["distribution"], "chunk_size": s["chunk_size"],
        "search_limit": s["k"], "recall_k": s["k"], "search_ef": s["search_ef"],
        "num_query_vectors": s["num_query_vectors"], "seed": s["seed"],
        "storage_root": plan["paths"]["storage_root"], "storage_type": "local_fs", "data_access_protocol": "file",
        "data_dir": req["paths"]["data_dir"],
    }
    meta = planner.metadata(plan["model"], s["processes"], None, plan["parameters"], plan["overrides"], args,
                            vdb_engine=ENGINE_DIR, vdb_backend=plan["backend"], vdb_index=s["index_type"],
                            index_type=s["index_type"], dimension=s["dimension"], num_vectors=s["num_vectors"],
                            vector_dim=s["dimension"], benchmark_mode=s["mode"])
    # the backend and client are what ran, whatever the environment lock calls its engine
    meta["engine"].update(name=plan["backend"], client=plan["client"])
    return meta


# rules-engine issue parameter -> the variable that changes it
_ISSUE_VARIABLES = {"runtime": "vectordb_runtime", "benchmark_mode": "vectordb_mode",
                    "index_type": "vectordb_index_type", "index": "vectordb_index_type",
                    "args.storage_root": "mlperf_data_dir"}


def _describe(issue, verdict):
    """(variable, fix) of one classification finding of a planned vector-database run."""
    parameter = str(issue.get("parameter") or "")
    variable = _ISSUE_VARIABLES.get(parameter)
    if variable is None and parameter.startswith("index."):
        variable = "vectordb_index_params"
    if verdict == "OPEN":
        return "mlperf_division", "set mlperf_division: open" + (" (or change %s)" % variable if variable else "")
    variable = variable or "mlperf_division"
    return variable, ("change %s as the message says, or set mlperf_allow_invalid: true to run anyway (recorded; "
                      "never a valid submission)" % variable)


@plan_function("vector_database", prefix="vectordb")
def plan_vectordb(planner, req):
    """Build the plan. ``req`` keys:

    edition, division, server_mode (embedded|external), client (builtin|vdbbench), index_type, metric_type,
    index_params, dimension, num_vectors, distribution, seed, chunk_size, load_batch_size, num_shards,
    collection, mode (timed|query_count), runtime, queries, processes, batch_size, k, search_ef, nprobe,
    num_query_vectors, report_count, runs (0 = edition count), host, port, connect_timeout, credentials_file,
    paths {data_dir, results_dir, controller_results_dir, work_dir, venv_bin, client_script, vdbbench_bin}, org,
    system, allow_invalid, engine {version, generation, lock_hash, profile}.
    """
    plan, errors = planner.plan, planner.errors
    edition, division = str(req["edition"]), str(req["division"])
    rules = planner.edition()
    mode = _one_of(planner, "vectordb_server_mode", req.get("server_mode") or "embedded", (
        ("embedded", "milvus-lite on the launcher"), ("external", "an existing Milvus at vectordb_host:vectordb_port")))
    backend = SERVER_MODES[mode]
    client = _one_of(planner, "vectordb_client", req.get("client") or "builtin", (
        ("builtin", "this collection's client"), ("vdbbench", "the upstream client, installed separately")))
    if mode == "embedded" and str(req.get("host") or "127.0.0.1") not in ("127.0.0.1", "localhost"):
        planner.fail("vectordb_host", "vectordb_host is %s, but the embedded milvus-lite server listens on 127.0.0.1 "
                                      "only" % req.get("host"),
                     "leave vectordb_host at 127.0.0.1, or set vectordb_server_mode: external")
    settings = _settings(req, rules, errors)
    if mode == "embedded":
        settings["host"] = "127.0.0.1"
    index = settings["index_type"]
    buildable = BACKENDS[backend]["indexes"]
    if not index:
        planner.fail("vectordb_index_type", "vectordb_index_type is empty", "set it to one of: %s" % ", ".join(buildable))
    elif index not in buildable:
        if backend == "milvus-lite" and index in BACKENDS["milvus"]["indexes"]:
            fix = ("use an index milvus-lite builds (%s; HNSW is the CLOSED-listed one, and with milvus-lite the "
                   "result is OPEN), or run against a Milvus deployment with vectordb_server_mode: external"
                   % ", ".join(buildable))
        else:
            fix = "use one of: %s" % ", ".join(buildable)
        planner.fail("vectordb_index_type", "%s cannot build index %s (it builds: %s)"
                     % (BACKENDS[backend]["description"], index, ", ".join(buildable)), fix)
    if client == "vdbbench" and settings["metric_type"] != "COSINE":
        planner.warn("the upstream vdbbench client takes its metric from its own configuration; "
                     "vectordb_metric_type=%s is not passed to it" % settings["metric_type"])
    planner.stop()

    paths = req["paths"]
    data_dir = paths["data_dir"].rstrip("/")
    python = planner.bin_dir + "/python"
    script = paths["client_script"]
    settings["storage_root"] = data_dir
    settings["results_root"] = paths["results_dir"].rstrip("/")
    if client == "builtin":
        datagen_argv = client_load_argv(python, script, settings)
        run_argv = client_search_argv(python, script, settings)
    else:
        vdb_bin = (paths.get("vdbbench_bin") or planner.bin_dir).rstrip("/")
        datagen_argv = vdbbench_load_argv(vdb_bin, settings)
        run_argv = wrapped_argv(python, script, settings, vdbbench_search_argv(vdb_bin, settings))
    env = dict(planner.rank_env, PYTHONUNBUFFERED="1")
    results_model = "%s/%s" % (ENGINE_DIR, index)
    plan.update(
        edition=edition, division=division, backend=backend, server_mode=mode, client=client,
        engine_dir=ENGINE_DIR, index_type=index, model="%s_%s" % (ENGINE_DIR, index), results_model=results_model,
        settings=settings,
        paths=dict(planner.paths(results_model, "datagen", "run"), storage_root=data_dir,
                   server_data_dir=data_dir + "/vectordb/milvus-lite"),
        commands={"datagen": {"argv": datagen_argv, "launcher_env": env},
                  "run": {"argv": run_argv, "launcher_env": env}},
        steps=settings["steps"], collection_record=collection_record(settings),
        server={"argv": server_argv(planner.bin_dir, data_dir + "/vectordb/milvus-lite", settings["port"])}
        if mode == "embedded" else None,
        engine=dict(req.get("engine") or {}, name=backend, client=client, translations=[]),
    )
    user = req.get("user_params") or {}
    plan["overrides"] = dict(sorted(_workloads.flatten(user).items())) if isinstance(user, dict) else {}
    plan["parameters"] = parameters_of(plan)
    plan["datagen_parameters"] = {k: copy.deepcopy(plan["parameters"][k]) for k in ("database", "index",
                                                                                     "dataset", "storage")}
    rules_runs = int(rules.section("vector_database").get("runs_per_result") or 5)
    plan["runs"] = int(req.get("runs") or 0) or rules_runs
    if plan["runs"] != rules_runs:
        planner.warn("%d run(s) planned; a vector database result needs exactly %d" % (plan["runs"], rules_runs))

    metadata = planned_metadata(planner, plan)
    plan["metadata_base"] = metadata
    # the rules engine itself makes a milvus-lite run OPEN (rule 5.6.2, edition data open_only_backends)
    classification = planner.classify(metadata)
    plan["classification"] = classification
    planner.classification_problems(classification, _describe)
