# -*- coding: utf-8 -*-
# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The plan of a KV-cache benchmark run: everything decided on the controller before anything runs.

Plain Python. A KV-cache result is ONE run leaf holding options 1-3 of rules Table KVCache-1, each run
``trials`` times as an MPI job of the upstream program's wrapper (``mlperf_wrapper.py``), with the
inter-option delay between options (rules.md §5.1-5.2). The leaf has one engine process: the kvcache
role's runner (roles/kvcache/files/mlperf_kvcache_runner.py) executes ``runner_spec.steps`` in order and
aggregates the per-rank results, so the plan has the shape the generic phase role runs
(``commands.run.argv`` with @RUN_DIR@, ``metadata_base``, ``classification``, ``engine``).
"""
from __future__ import annotations

import copy
import shlex

from ansible_collections.mlperf.storage.plugins.module_utils import _mpi
from ansible_collections.mlperf.storage.plugins.plugin_utils import _inputs
from ansible_collections.mlperf.storage.plugins.plugin_utils._training_plan import results_base
from ansible_collections.mlperf.storage.plugins.plugin_utils.rules import EditionError, classify_planned_run, \
    load_edition

GIB = 1024 ** 3
RUN_DIR_TOKEN = "@RUN_DIR@"
DEFAULT_MODEL = "llama3.1-8b"  # the results path model of the upstream tool
# Per-option settings an OPEN run may supersede (max-concurrent-allocs always comes from the table).
OPEN_OVERRIDES = ("model", "num_users", "duration", "gpu_mem_gb", "cpu_mem_gb", "generation_mode")
GENERATION_MODES = ("none", "fast", "realistic")
# bytes per token and typical sequence length of each model (rules.md §5.1), for the cache size estimate
MODEL_FOOTPRINT = {"tiny-1b": (768, 2048), "mistral-7b": (4096, 4096), "llama2-7b": (8192, 4096),
                   "llama3.1-8b": (4096, 8192), "llama3.1-70b-instruct": (16384, 8192)}
# option setting -> wrapper flag, in the order the upstream tool passes them
FLAGS = (("model", "--model"), ("num_users", "--num-users"), ("duration", "--duration"),
         ("gpu_mem_gb", "--gpu-mem-gb"), ("cpu_mem_gb", "--cpu-mem-gb"),
         ("max_concurrent_allocs", "--max-concurrent-allocs"), ("generation_mode", "--generation-mode"))

_LOCK_VARIABLES = {"seed": "kvcache_seed", "trials": "kvcache_trials", "inter_option_delay": "kvcache_inter_option_delay",
                   "config": "kvcache_config", "model": "kvcache_overrides", "num_processes": "mlperf_accelerators_per_host"}


def _error(variable, message, fix):
    return {"variable": variable, "message": message, "fix": fix}


def _flag_value(value):
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def option_settings(table, options, overrides):
    """{option: settings}: Table KVCache-1 values with the OPEN overrides laid over them key by key."""
    out = {}
    for option in options:
        settings = dict(table[option])
        settings.update(overrides)
        out[option] = settings
    return out


def wrapper_argv(python, wrapper, option, trial, cache_dir, seed, settings, config=None):
    """One rank's program: the upstream wrapper with per-rank output/cache bases and the option's flags."""
    argv = [python, wrapper, "--rank-output-base", "%s/option_%s/trial_%d" % (RUN_DIR_TOKEN, option, trial),
            "--rank-cache-base", cache_dir, "--seed-base", str(seed)]
    if config:
        argv += ["--config", config]
    for key, flag in FLAGS:
        if settings.get(key) is not None:
            argv += [flag, _flag_value(settings[key])]
    return argv


def cache_estimate(settings, total_ranks):
    """Estimated KV-cache bytes of one option across all ranks (bytes/token x sequence x users x ranks)."""
    per_token, sequence = MODEL_FOOTPRINT.get(settings.get("model"), (4096, 4096))
    users = int(settings.get("num_users") or 0)
    return per_token * sequence * users * total_ranks


def _check_settings(option, settings, models, errors):
    if settings.get("model") not in models:
        errors.append(_error("kvcache_overrides", "option %s: model %r is not a KV-cache model (%s)"
                             % (option, settings.get("model"), ", ".join(models)),
                             "set kvcache_overrides.model to one of %s" % ", ".join(models)))
    for key in ("num_users", "duration"):
        value = settings.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            errors.append(_error("kvcache_overrides", "option %s: %s is %r; it must be a whole number of at least 1"
                                 % (option, key, value), "set kvcache_overrides.%s to a positive integer" % key))
    for key in ("gpu_mem_gb", "cpu_mem_gb"):
        value = settings.get(key)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            errors.append(_error("kvcache_overrides", "option %s: %s is %r; it must be a number of GB >= 0"
                                 % (option, key, value), "set kvcache_overrides.%s to 0 or more" % key))
    if settings.get("generation_mode") not in GENERATION_MODES:
        errors.append(_error("kvcache_overrides", "option %s: generation_mode %r is not one of %s"
                             % (option, settings.get("generation_mode"), ", ".join(GENERATION_MODES)),
                             "set kvcache_overrides.generation_mode to one of %s" % ", ".join(GENERATION_MODES)))


@_inputs.guarded("kv_cache")
def plan_kvcache(req):
    """Build the plan. ``req`` keys:

    edition, division, clients [{host, mpi_host, memtotal_bytes, cores}], launcher, processes_per_host,
    options (list; empty = all of the table), seed, trials, inter_option_delay, overrides (OPEN only), config
    (OPEN only), cache_dir, filesystems {same_filesystem, cache_dir, results_dir, ...} (None = not probed),
    engine {name, generation, version, source, profile, lock_hash}, mpi {implementation, mpirun, run_as_root,
    extra_args}, paths {results_dir, work_dir, venv_bin, runner, spec, wrapper}, org, system, allow_invalid.
    """
    plan = {"benchmark": "kv_cache", "errors": [], "warnings": [], "notes": []}
    errors = plan["errors"]
    edition_name, division = str(req["edition"]), req["division"]
    try:
        edition = load_edition(edition_name)
    except EditionError as exc:
        errors.append(_error("mlperf_edition", str(exc), "set mlperf_edition to a known edition"))
        return plan
    if not edition.has_benchmark("kv_cache"):
        errors.append(_error("mlperf_edition", "edition %s has no KV-cache benchmark" % edition_name,
                             "set mlperf_edition to an edition with kv_cache (3.0 or later)"))
        return plan
    section = edition.section("kv_cache")
    table = {str(k): v for k, v in (section.get("options") or {}).items()}
    models = list(section.get("models") or [])
    options = [str(o) for o in (req.get("options") or sorted(table, key=int))]
    unknown = [o for o in options if o not in table]
    if unknown:
        errors.append(_error("kvcache_options", "option(s) %s are not in Table KVCache-1 (options %s)"
                             % (", ".join(unknown), ", ".join(sorted(table))),
                             "list only %s in kvcache_options" % ", ".join(sorted(table))))
    closed = division == "closed"
    overrides = req.get("overrides") or {}
    if not isinstance(overrides, dict):
        errors.append(_error("kvcache_overrides", "kvcache_overrides is a %s; it must be a mapping"
                             % type(overrides).__name__, "write it as a mapping, e.g. {num_users: 50}"))
        overrides = {}
    bad = sorted(k for k in overrides if k not in OPEN_OVERRIDES)
    if bad:
        errors.append(_error("kvcache_overrides", "kvcache_overrides has %s; only %s can be superseded "
                             "(max_concurrent_allocs always comes from the table)"
                             % (", ".join(bad), ", ".join(OPEN_OVERRIDES)), "remove %s" % ", ".join(bad)))
    if closed and overrides:
        errors.append(_error("kvcache_overrides", "CLOSED runs the options of Table KVCache-1 as they are; "
                                                  "kvcache_overrides sets %s" % ", ".join(sorted(overrides)),
                             "remove kvcache_overrides, or set mlperf_division: open"))
    if closed and options != sorted(table, key=int):
        errors.append(_error("kvcache_options", "CLOSED runs every option of Table KVCache-1 (%s), the plan has %s"
                             % (", ".join(sorted(table)), ", ".join(options)),
                             "remove kvcache_options, or set mlperf_division: open"))
    config = req.get("config") or None
    clients = req.get("clients") or []
    if not clients:
        errors.append(_error("clients", "the inventory group 'clients' has no hosts",
                             "put the hosts that run KV-cache ranks in a group named 'clients'"))
    cache_dir = str(req.get("cache_dir") or "")
    if not cache_dir.startswith("/"):
        errors.append(_error("kvcache_cache_dir", "kvcache_cache_dir %r is not an absolute path" % cache_dir,
                             "set kvcache_cache_dir to a directory on the storage under test"))
    results_dir = str(req["paths"]["results_dir"]).rstrip("/")
    if cache_dir and cache_dir.rstrip("/") == results_dir:
        errors.append(_error("kvcache_cache_dir", "the cache directory and the results directory are both %s"
                             % results_dir, "put kvcache_cache_dir on the storage under test, apart from results"))
    fs = req.get("filesystems")
    if isinstance(fs, dict) and fs.get("same_filesystem"):
        message = ("kvcache_cache_dir %s and mlperf_results_dir %s are on the same filesystem (%s); the rules "
                   "require the KV cache and the results on different filesystems"
                   % (fs.get("cache_dir") or cache_dir, fs.get("results_dir") or results_dir,
                      fs.get("cache_mount_point") or "same device"))
        if closed:
            errors.append(_error("kvcache_cache_dir", message, "put mlperf_results_dir on another filesystem than "
                                                               "the storage under test (kvcache_cache_dir)"))
        else:
            plan["warnings"].append(message)
    engine = dict(req.get("engine") or {})
    if engine.get("name") != "kv-cache":
        errors.append(_error("kvcache_env_dir", "the environment on the launcher is the %r lock (engine %r), not the "
                             "kv-cache one" % (engine.get("profile"), engine.get("name")),
                             "provision the kvcache profile (playbooks/provision.yml -e mlperf_env_profile=kvcache "
                             "-e python_env_dir=<kvcache_env_dir>) and point kvcache_env_dir at it"))
    if errors:
        return plan

    settings = option_settings(table, options, overrides)
    for option in options:
        _check_settings(option, settings[option], models, errors)
    try:
        per_host = int(req["processes_per_host"])
        hosts_slots, np = _mpi.rank_layout([c["mpi_host"] for c in clients], per_host)
    except (TypeError, ValueError) as exc:
        errors.append(_error("mlperf_accelerators_per_host", str(exc),
                             "set mlperf_accelerators_per_host (KV-cache ranks per client) to at least 1"))
        return plan
    seed, trials, delay = req.get("seed"), req.get("trials"), req.get("inter_option_delay")
    for name, value, low in (("kvcache_seed", seed, 0), ("kvcache_trials", trials, 1),
                             ("kvcache_inter_option_delay", delay, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            errors.append(_error(name, "%s is %r; it must be a whole number of at least %d" % (name, value, low),
                                 "set %s to a whole number" % name))
    if errors:
        return plan

    mpi = req["mpi"]
    paths = req["paths"]
    bin_dir = paths["venv_bin"].rstrip("/")
    python = bin_dir + "/python"
    wrapper = paths.get("wrapper") or bin_dir + "/mlperf_wrapper.py"
    rank_env = {"PATH": "%s:/usr/local/bin:/usr/bin:/bin" % bin_dir}
    # per client: one host with fewer cores than ranks needs it even when the total would not
    oversubscribe = _inputs.oversubscribed(clients, per_host)
    extra = list(mpi.get("extra_args") or [])
    if mpi["implementation"] == _mpi.OPENMPI:
        extra = ["--mca", "orte_abort_on_non_zero_status", "0"] + extra  # a failed rank must not end the trial
    steps = []
    for option in options:
        for trial in range(trials):
            program = wrapper_argv(python, wrapper, option, trial, cache_dir, seed, settings[option], config)
            try:
                argv = _mpi.build_mpi_command(mpi["implementation"], hosts_slots, np, program,
                                              mpirun=mpi.get("mpirun") or bin_dir + "/mpirun", env=rank_env,
                                              run_as_root=bool(mpi.get("run_as_root")), oversubscribe=oversubscribe,
                                              extra_args=extra or None)
            except ValueError as exc:
                errors.append(_error("mpi_implementation", str(exc), "fix the MPI settings"))
                return plan
            steps.append({"option": option, "trial": trial, "argv": argv})
    model = overrides.get("model") or DEFAULT_MODEL
    runner_spec = {"steps": steps, "options": options, "trials": trials, "total_ranks": np,
                   "npernode": per_host, "host_count": len(clients), "inter_option_delay": delay}
    runner_argv = [python, paths["runner"], "run", "--spec", paths["spec"], "--run-dir", RUN_DIR_TOKEN]
    estimates = {o: cache_estimate(settings[o], np) for o in options}
    expected_seconds = sum(int(settings[o]["duration"]) for o in options) * trials + delay * (len(options) - 1)
    plan.update(
        edition=edition_name, division=division, model=model, options=options, settings=settings, seed=seed,
        trials=trials, inter_option_delay=delay, num_processes=np, npernode=per_host, cache_dir=cache_dir,
        config=config, overrides=overrides, runner_spec=runner_spec, expected_seconds=expected_seconds,
        rank_layout={"hosts": [list(h) for h in hosts_slots], "np": np, "oversubscribe": oversubscribe},
        datasize={"estimated_bytes_per_option": estimates, "recommended_cache_bytes": 2 * max(estimates.values())},
        paths={"run_base": results_base(req, "kv_cache", model) + "/run"},
        commands={"run": {"argv": runner_argv, "launcher_env": dict(rank_env, **_mpi.launcher_env(
            mpi["implementation"], rank_env))}},
        engine=dict(engine, translations=[]),
    )
    metadata = planned_metadata(plan, req)
    plan["metadata_base"] = metadata
    classification = classify_planned_run(metadata, edition=edition_name, division=division)
    plan["classification"] = classification
    verdict = classification["verdict"]
    wanted = "INVALID" if verdict == "INVALID" and not req.get("allow_invalid") else \
        "OPEN" if verdict == "OPEN" and closed else None
    for issue in classification["issues"]:
        if wanted and issue["validation"] == wanted:
            parameter = issue.get("parameter")
            variable = _LOCK_VARIABLES.get(parameter, "mlperf_division")
            if parameter in ("seed", "trials", "inter_option_delay", "config"):
                fix = "remove %s from the inventory (CLOSED uses %s), or set mlperf_division: open" % (
                    variable, issue.get("expected") if issue.get("expected") is not None else "none")
            else:
                fix = "change %s as the message says, or set mlperf_division: open" % variable
            errors.append(_error(variable, "the planned run would be %s: %s" % (wanted, issue["message"]), fix))
    if closed and delay and expected_seconds:
        plan["notes"].append("the run takes at least %d s (%d option(s) x %d trial(s) plus %d s between options)"
                             % (expected_seconds, len(options), trials, delay * (len(options) - 1)))
    return plan


def planned_metadata(plan, req):
    """The metadata fields known before the run (rules.md §8.3, upstream kv_cache shape)."""
    clients = req["clients"]
    memories = [int(c.get("memtotal_bytes") or 0) for c in clients]
    first = plan["settings"][plan["options"][0]]
    invocations = [{"option": s["option"], "trial": s["trial"],
                    "command": " ".join(shlex.quote(a) for a in s["argv"]),
                    "stdout": "kvcache_opt%s_trial%d_<run_datetime>.stdout.log" % (s["option"], s["trial"]),
                    "stderr": "kvcache_opt%s_trial%d_<run_datetime>.stderr.log" % (s["option"], s["trial"])}
                   for s in plan["runner_spec"]["steps"]]
    return {
        "benchmark_type": "kv_cache",
        "model": plan["model"],
        "command": "run",
        "num_processes": plan["num_processes"],
        "accelerator": None,
        "parameters": {"options": copy.deepcopy(plan["settings"]), "seed": plan["seed"], "trials": plan["trials"],
                       "inter_option_delay": plan["inter_option_delay"], "cache_dir": plan["cache_dir"],
                       "model": first.get("model"), "num_users": first.get("num_users"),
                       "duration": first.get("duration"), "gpu_mem_gb": first.get("gpu_mem_gb"),
                       "cpu_mem_gb": first.get("cpu_mem_gb"), "generation_mode": first.get("generation_mode")},
        "override_parameters": dict(plan["overrides"]),
        "system_info": {
            "total_memory_bytes": sum(memories),
            "total_cores": sum(int(c.get("cores") or 0) for c in clients),
            "num_hosts": len(clients),
            "min_memory_bytes": min(memories) if memories else None,
            "max_memory_bytes": max(memories) if memories else None,
            "collection_method": "ansible-facts",
            "hosts": [{"hostname": c["host"], "memory_bytes": c.get("memtotal_bytes"), "cores": c.get("cores")}
                      for c in clients],
        },
        "edition": plan["edition"],
        "division": plan["division"],
        "kvcache_model": plan["model"],
        "seed": plan["seed"],
        "trials": plan["trials"],
        "inter_option_delay": plan["inter_option_delay"],
        "cache_dir": plan["cache_dir"],
        "kvcache_invocations": invocations,
        "args": {
            "mode": plan["division"],
            "benchmark": "kvcache",
            "command": "run",
            "model": plan["model"],
            "cache_dir": plan["cache_dir"],
            "results_dir": req["paths"]["results_dir"],
            "hosts": [c["mpi_host"] for c in clients],
            "num_processes": plan["num_processes"],
            "npernode": plan["npernode"],
            "num_client_hosts": len(clients),
            "seed": plan["seed"],
            "trials": plan["trials"],
            "inter_option_delay": plan["inter_option_delay"],
            "config": plan["config"],
            "enable_autoscaling": False,
            "options": plan["options"],
            "orgname": req["org"],
            "systemname": req["system"],
            "allow_invalid_params": bool(req.get("allow_invalid")),
            "loops": 1,
        },
        "engine": {k: v for k, v in (req.get("engine") or {}).items()},
        "tool": {"name": "mlperf.storage"},
    }
