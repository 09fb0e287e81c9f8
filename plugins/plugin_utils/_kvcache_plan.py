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
from ansible_collections.mlperf.storage.plugins.plugin_utils._plan_core import RUN_DIR_TOKEN, plan_function, problem

# option setting -> wrapper flag, in the order the upstream tool passes them
FLAGS = (("model", "--model"), ("num_users", "--num-users"), ("duration", "--duration"),
         ("gpu_mem_gb", "--gpu-mem-gb"), ("cpu_mem_gb", "--cpu-mem-gb"),
         ("max_concurrent_allocs", "--max-concurrent-allocs"), ("generation_mode", "--generation-mode"))

# rules-engine issue parameter -> the variable that changes it
_ISSUE_VARIABLES = {"seed": "kvcache_seed", "trials": "kvcache_trials",
                    "inter_option_delay": "kvcache_inter_option_delay", "config": "kvcache_config",
                    "model": "kvcache_overrides", "num_processes": "kvcache_processes_per_host"}


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


def wrapper_argv(python, wrapper, option, trial, cache_dir, seed, settings, config=None, feature_args=()):
    """One rank's program: the upstream wrapper with per-rank output/cache bases, the option's flags and the
    program features (``feature_args``, the same for every option; the wrapper passes them on to the program)."""
    argv = [python, wrapper, "--rank-output-base", "%s/option_%s/trial_%d" % (RUN_DIR_TOKEN, option, trial),
            "--rank-cache-base", cache_dir, "--seed-base", str(seed)]
    if config:
        argv += ["--config", config]
    for key, flag in FLAGS:
        if settings.get(key) is not None:
            argv += [flag, _flag_value(settings[key])]
    return argv + list(feature_args)


def _unset(value):
    return value is None or (isinstance(value, str) and not value.strip())


def _feature_value(entry, variable, value):
    """(the value to pass, or None for a switch that is off; a problem or None) of one set feature."""
    kind = entry.get("kind")
    if kind == "switch":
        if not _inputs.is_boolean(value):
            return None, problem(variable, "%s is %s; it must be true or false" % (variable, _inputs.shown(value)),
                                 "set %s to true or false" % variable)
        return (True if str(value).strip().lower() in _inputs.TRUE_WORDS else None), None
    if kind == "count":
        number = _inputs.as_int(value)
        if number is None or number < 1:
            return None, problem(variable, "%s is %s; it must be a whole number of at least 1"
                                 % (variable, _inputs.shown(value)),
                                 "set %s to a positive integer, or leave it unset (the program's default)" % variable)
        return number, None
    choices = [str(c) for c in entry.get("choices") or ()]
    if str(value) in choices:
        return str(value), None
    why = (entry.get("refused") or {}).get(str(value))
    return None, problem(variable, "%s is %s; it must be one of %s%s" % (
        variable, _inputs.shown(value), ", ".join(choices), " (%s: %s)" % (value, why) if why else ""),
        "set %s to one of %s, or leave it empty (the program's default)" % (variable, ", ".join(choices)))


def chosen_features(spec, given):
    """({name: value} of the program features switched on or set, in wrapper order; problems) from ``given``
    ({name: value}; None, "" and a false switch are unset). ``spec`` is the edition's open_features. Each problem
    names the role variable ``kvcache_<name>``."""
    chosen, problems = {}, []
    for name in sorted(set(given) - set(spec)):
        problems.append(problem("features", "features has %r; the kv-cache program features are %s"
                                % (name, ", ".join(spec)), "remove %s" % name))
    for name, entry in spec.items():
        if _unset(given.get(name)):
            continue
        value, found = _feature_value(entry, "kvcache_" + name, given[name])
        if found:
            problems.append(found)
        elif value is not None:
            chosen[name] = value
    for name, entry in spec.items():
        needed = entry.get("requires")
        if needed in spec and not _unset(given.get(name)) and needed not in chosen:
            problems.append(problem("kvcache_" + name, "kvcache_%s is %s but kvcache_%s is not true: the program "
                                    "uses %s only with %s" % (name, _inputs.shown(given.get(name)), needed,
                                                              entry["flag"], spec[needed]["flag"]),
                                    "set kvcache_%s: true, or remove kvcache_%s" % (needed, name)))
    return chosen, problems


def feature_argv(spec, chosen):
    """The wrapper flags of the chosen features: a switch alone, any other with its value."""
    argv = []
    for name, value in chosen.items():
        argv += [spec[name]["flag"]] if value is True else [spec[name]["flag"], str(value)]
    return argv


def cache_estimate(edition, settings, total_ranks):
    """Estimated KV-cache bytes of one option across all ranks (bytes/token x sequence x users x ranks)."""
    per_token, sequence = edition.kv_cache_model_footprint(settings.get("model"))
    users = int(settings.get("num_users") or 0)
    return per_token * sequence * users * total_ranks


def _check_settings(option, settings, models, modes, errors):
    if settings.get("model") not in models:
        errors.append(problem("kvcache_overrides", "option %s: model %r is not a KV-cache model (%s)"
                             % (option, settings.get("model"), ", ".join(models)),
                             "set kvcache_overrides.model to one of %s" % ", ".join(models)))
    for key in ("num_users", "duration"):
        value = settings.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            errors.append(problem("kvcache_overrides", "option %s: %s is %r; it must be a whole number of at least 1"
                                 % (option, key, value), "set kvcache_overrides.%s to a positive integer" % key))
    for key in ("gpu_mem_gb", "cpu_mem_gb"):
        value = settings.get(key)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            errors.append(problem("kvcache_overrides", "option %s: %s is %r; it must be a number of GB >= 0"
                                 % (option, key, value), "set kvcache_overrides.%s to 0 or more" % key))
    if settings.get("generation_mode") not in modes:
        errors.append(problem("kvcache_overrides", "option %s: generation_mode %r is not one of %s"
                              % (option, settings.get("generation_mode"), ", ".join(modes)),
                              "set kvcache_overrides.generation_mode to one of %s" % ", ".join(modes)))


def _describe(issue, verdict):
    """(variable, fix) of one classification finding of a planned KV-cache run."""
    parameter = issue.get("parameter")
    variable = _ISSUE_VARIABLES.get(parameter, "mlperf_division")
    if parameter in ("seed", "trials", "inter_option_delay", "config"):
        return variable, "remove %s from the inventory (CLOSED uses %s), or set mlperf_division: open" % (
            variable, issue.get("expected") if issue.get("expected") is not None else "none")
    return variable, "change %s as the message says, or set mlperf_division: open" % variable


@plan_function("kv_cache", prefix="kvcache")
def plan_kvcache(planner, req):
    """Build the plan. ``req`` keys:

    edition, division, clients [{host, mpi_host, memtotal_bytes, cores}], launcher, processes_per_host,
    options (list; empty = all of the table), seed, trials, inter_option_delay, overrides (OPEN only), config
    (OPEN only), cache_dir, filesystems {same_filesystem, cache_dir, results_dir, ...} (None = not probed),
    engine {name, generation, version, source, profile, lock_hash}, mpi {implementation, mpirun, run_as_root,
    extra_args}, paths {results_dir, controller_results_dir, work_dir, venv_bin, runner, spec, wrapper}, org,
    system, allow_invalid.
    """
    plan, errors = planner.plan, planner.errors
    edition_name, division = str(req["edition"]), req["division"]
    edition = planner.edition()
    table, models, open_overrides = edition.kv_cache_options(), edition.kv_cache_models(), \
        edition.kv_cache_open_overrides()
    options = [str(o) for o in (req.get("options") or sorted(table, key=int))]
    unknown = [o for o in options if o not in table]
    if unknown:
        planner.fail("kvcache_options", "option(s) %s are not in Table KVCache-1 (options %s)"
                     % (", ".join(unknown), ", ".join(sorted(table))),
                     "list only %s in kvcache_options" % ", ".join(sorted(table)))
    closed = division == "closed"
    overrides = planner.mapping(req.get("overrides"), "kvcache_overrides",
                                "write it as a mapping, e.g. {num_users: 50}") or {}
    bad = sorted(k for k in overrides if k not in open_overrides)
    if bad:
        planner.fail("kvcache_overrides", "kvcache_overrides has %s; only %s can be superseded (max_concurrent_allocs "
                                          "always comes from the table)" % (", ".join(bad), ", ".join(open_overrides)),
                     "remove %s" % ", ".join(bad))
    if closed and overrides:
        planner.fail("kvcache_overrides", "CLOSED runs the options of Table KVCache-1 as they are; kvcache_overrides "
                                          "sets %s" % ", ".join(sorted(overrides)),
                     "remove kvcache_overrides, or set mlperf_division: open")
    # One role variable per program feature (kvcache_enable_rag, kvcache_rag_num_docs, ...): they are run-level
    # switches of the program, like kvcache_config, not Table KVCache-1 values kvcache_overrides supersedes per key.
    given = planner.mapping(req.get("features"), "features", "write it as a mapping, e.g. {enable_rag: true}") or {}
    feature_spec = edition.kv_cache_open_features()
    features, feature_problems = chosen_features(feature_spec, given)
    errors.extend(feature_problems)
    forbidden = edition.kv_cache_closed_forbidden()
    for name in (features if closed else {}):
        variable = "kvcache_" + name
        if name in forbidden:
            message = "CLOSED forbids %s (rules 6.3.2.2); %s is %s" % (feature_spec[name]["flag"], variable,
                                                                        _inputs.shown(features[name]))
        else:
            message = ("CLOSED passes no program feature to the benchmark (rules 6.6.1); %s is %s (%s)"
                       % (variable, _inputs.shown(features[name]), feature_spec[name]["flag"]))
        planner.fail(variable, message, "remove %s, or set mlperf_division: open" % variable)
    if closed and options != sorted(table, key=int):
        planner.fail("kvcache_options", "CLOSED runs every option of Table KVCache-1 (%s), the plan has %s"
                     % (", ".join(sorted(table)), ", ".join(options)),
                     "remove kvcache_options, or set mlperf_division: open")
    config = req.get("config") or None
    clients = planner.clients("KV-cache ranks")
    cache_dir = str(req.get("cache_dir") or "")
    if not cache_dir.startswith("/"):
        planner.fail("kvcache_cache_dir", "kvcache_cache_dir %r is not an absolute path" % cache_dir,
                     "set kvcache_cache_dir to a directory on the storage under test")
    results_dir = str(req["paths"]["results_dir"]).rstrip("/")
    if cache_dir and cache_dir.rstrip("/") == results_dir:
        planner.fail("kvcache_cache_dir", "the cache directory and the results directory are both %s" % results_dir,
                     "put kvcache_cache_dir on the storage under test, apart from results")
    fs = req.get("filesystems")
    if isinstance(fs, dict) and fs.get("same_filesystem"):
        message = ("kvcache_cache_dir %s and mlperf_results_dir %s are on the same filesystem (%s); the rules "
                   "require the KV cache and the results on different filesystems"
                   % (fs.get("cache_dir") or cache_dir, fs.get("results_dir") or results_dir,
                      fs.get("cache_mount_point") or "same device"))
        if closed:
            planner.fail("kvcache_cache_dir", message, "put mlperf_results_dir on another filesystem than the storage "
                                                       "under test (kvcache_cache_dir)")
        else:
            planner.warn(message)
    engine = dict(req.get("engine") or {})
    if engine.get("name") != "kv-cache":
        planner.fail("kvcache_env_dir", "the environment on the launcher is the %r lock (engine %r), not the kv-cache "
                                        "one" % (engine.get("profile"), engine.get("name")),
                     "provision the kvcache profile (playbooks/provision.yml -e mlperf_env_profile=kvcache "
                     "-e python_env_dir=<kvcache_env_dir>) and point kvcache_env_dir at it")
    planner.stop()

    settings = option_settings(table, options, overrides)
    for option in options:
        _check_settings(option, settings[option], models, edition.kv_cache_generation_modes(), errors)
    per_host = req["processes_per_host"]
    ranks = planner.ranks(clients, per_host, variable="kvcache_processes_per_host",
                          what=" (KV-cache ranks per client)")
    np = ranks["np"]
    seed, trials, delay = req.get("seed"), req.get("trials"), req.get("inter_option_delay")
    for name, value, low in (("kvcache_seed", seed, 0), ("kvcache_trials", trials, 1),
                             ("kvcache_inter_option_delay", delay, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            planner.fail(name, "%s is %r; it must be a whole number of at least %d" % (name, value, low),
                         "set %s to a whole number" % name)
    planner.stop()

    mpi, paths = req["mpi"], req["paths"]
    python = planner.bin_dir + "/python"
    wrapper = paths.get("wrapper") or planner.bin_dir + "/mlperf_wrapper.py"
    extra = list(mpi.get("extra_args") or [])
    if mpi["implementation"] == _mpi.OPENMPI:
        extra = ["--mca", "orte_abort_on_non_zero_status", "0"] + extra  # a failed rank must not end the trial
    steps = [{"option": option, "trial": trial,
              "argv": planner.mpi_argv(ranks, wrapper_argv(python, wrapper, option, trial, cache_dir, seed,
                                                           settings[option], config,
                                                           feature_argv(feature_spec, features)), extra)}
             for option in options for trial in range(trials)]
    model = overrides.get("model") or edition.kv_cache_default_model()
    runner_spec = {"steps": steps, "options": options, "trials": trials, "total_ranks": np,
                   "npernode": int(per_host), "host_count": len(clients), "inter_option_delay": delay}
    runner_argv = [python, paths["runner"], "run", "--spec", paths["spec"], "--run-dir", RUN_DIR_TOKEN]
    estimates = {o: cache_estimate(edition, settings[o], np) for o in options}
    expected_seconds = sum(int(settings[o]["duration"]) for o in options) * trials + delay * (len(options) - 1)
    # the runner starts the MPI jobs itself: its own command line is not an MPI one
    run_command = {"argv": runner_argv, "launcher_env": planner.launcher_env}
    plan.update(
        edition=edition_name, division=division, model=model, options=options, settings=settings, seed=seed,
        trials=trials, inter_option_delay=delay, num_processes=np, npernode=int(per_host), cache_dir=cache_dir,
        config=config, overrides=overrides, features=features, runner_spec=runner_spec,
        expected_seconds=expected_seconds,
        rank_layout=ranks,
        datasize={"estimated_bytes_per_option": estimates, "recommended_cache_bytes": 2 * max(estimates.values())},
        paths=planner.paths(model, "run"), commands={"run": run_command}, engine=dict(engine, translations=[]),
    )
    metadata = planned_metadata(planner, plan)
    plan["metadata_base"] = metadata
    classification = planner.classify(metadata)
    plan["classification"] = classification
    planner.classification_problems(classification, _describe, dedupe=False)
    if closed and delay and expected_seconds:
        planner.note("the run takes at least %d s (%d option(s) x %d trial(s) plus %d s between options)"
                     % (expected_seconds, len(options), trials, delay * (len(options) - 1)))


def planned_metadata(planner, plan):
    """The metadata fields known before the run (rules.md §8.3, upstream kv_cache shape)."""
    first = plan["settings"][plan["options"][0]]
    invocations = [{"option": s["option"], "trial": s["trial"],
                    "command": " ".join(shlex.quote(a) for a in s["argv"]),
                    "stdout": "kvcache_opt%s_trial%d_<run_datetime>.stdout.log" % (s["option"], s["trial"]),
                    "stderr": "kvcache_opt%s_trial%d_<run_datetime>.stderr.log" % (s["option"], s["trial"])}
                   for s in plan["runner_spec"]["steps"]]
    parameters = {"options": copy.deepcopy(plan["settings"]), "seed": plan["seed"], "trials": plan["trials"],
                  "inter_option_delay": plan["inter_option_delay"], "cache_dir": plan["cache_dir"],
                  "model": first.get("model"), "num_users": first.get("num_users"), "duration": first.get("duration"),
                  "gpu_mem_gb": first.get("gpu_mem_gb"), "cpu_mem_gb": first.get("cpu_mem_gb"),
                  "generation_mode": first.get("generation_mode"), "features": dict(plan["features"])}
    args = {
        "benchmark": "kvcache",
        "command": "run",
        "model": plan["model"],
        "cache_dir": plan["cache_dir"],
        "num_processes": plan["num_processes"],
        "npernode": plan["npernode"],
        "seed": plan["seed"],
        "trials": plan["trials"],
        "inter_option_delay": plan["inter_option_delay"],
        "config": plan["config"],
        "options": plan["options"],
    }
    # every program feature under the upstream tool's args name: its value, or off / None when not used
    for name, entry in planner.edition().kv_cache_open_features().items():
        args[name] = plan["features"].get(name, False if entry.get("kind") == "switch" else None)
    return planner.metadata(plan["model"], plan["num_processes"], None, parameters, dict(plan["overrides"]), args,
                            clients=planner.req["clients"], kvcache_model=plan["model"], seed=plan["seed"],
                            trials=plan["trials"], inter_option_delay=plan["inter_option_delay"],
                            cache_dir=plan["cache_dir"], kvcache_invocations=invocations)
