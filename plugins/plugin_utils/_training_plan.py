# -*- coding: utf-8 -*-
# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The plan of a training benchmark: everything decided on the controller before anything runs.

Plain Python. Input is what the inventory and the clients' facts say; output is a JSON-able plan: the
DLIO workload and overrides (adapted to the installed engine generation), the dataset size from the
clients' real memory, the MPI rank layout and commands, the results paths, the metadata skeleton and
the rules engine's classification of the planned run. Problems are collected, never raised, so the
caller can show all of them at once.
"""
from __future__ import annotations

import copy
import re

from ansible_collections.mlperf.storage.plugins.module_utils import _mpi
from ansible_collections.mlperf.storage.plugins.plugin_utils import _datasize, _dlio, _inputs, _workloads
from ansible_collections.mlperf.storage.plugins.plugin_utils.rules import classify_planned_run

GIB = 1024 ** 3
RUN_DIR_TOKEN = "@RUN_DIR@"
CONFIG_DIR_NAME = "dlio_workloads"


_flatten = _workloads.flatten


def _nest(flat):
    return _workloads.merge_overrides({}, flat)


def _error(variable, message, fix):
    return {"variable": variable, "message": message, "fix": fix}


def _pair_error(message):
    """check_pair's "mlperf_x: what ... . Set/Choose ..." text -> an error entry with the fix apart."""
    variable, _, text = message.partition(": ")
    if not variable.startswith("mlperf_"):
        variable, text = "mlperf_model", message
    for marker in (". Set ", ". Choose "):
        if marker in text:
            what, _, fix = text.partition(marker)
            return _error(variable, what, marker[2:].lower() + fix.rstrip("."))
    return _error(variable, text, "see docs/inventory.md for the models and accelerators each edition allows")


# rules-engine issue parameter -> the inventory variable that changes it
_ISSUE_VARIABLES = {
    "model": "mlperf_model", "accelerator": "mlperf_accelerator", "division": "mlperf_division",
    "edition": "mlperf_edition", "engine.generation": "mlperf_env_profile",
    "num_processes": "mlperf_accelerators_per_host", "num_hosts": "mlperf_accelerators_per_host",
    "args.data_dir": "mlperf_data_dir", "args.results_dir": "mlperf_results_dir",
}
_AT_LEAST_RE = re.compile(r"(\d+)")


def _classification_error(issue, verdict, division):
    """One error entry for one INVALID (or, in closed, OPEN) issue of the planned run's classification."""
    parameter = issue.get("parameter")
    variable = _ISSUE_VARIABLES.get(parameter, "mlperf_params")
    message = "the planned run would be %s: %s" % (verdict, issue["message"])
    if parameter == "dataset.num_files_train" and issue.get("rule_id") == "3.1.2":
        match = _AT_LEAST_RE.search(str(issue.get("expected") or ""))
        minimum = match.group(1) if match else "the minimum"
        fix = ("set dataset.num_files_train to at least %s in mlperf_params, or remove it from mlperf_params "
               "(the plan then uses the datasize minimum)" % minimum)
    elif parameter == "engine.generation":
        fix = "%s (mlperf_env_profile: submission, then playbooks/provision.yml)" % (
            "install the MLPerf DLIO build on every client")
    elif verdict == "OPEN":
        fix = "remove %s from mlperf_params, or set mlperf_division: open" % parameter
    elif variable == "mlperf_params" and parameter:
        fix = "remove %s from mlperf_params (the %s division keeps the reference value)" % (parameter, division)
    else:
        fix = "change %s as the message says" % variable
    return _error(variable, message, fix)


def _adapt_overrides(overrides, generation):
    """Adapt dotted overrides to the engine generation: (adapted dotted dict, translations, refusals)."""
    if not overrides:
        return {}, [], []
    adapted = _dlio.adapt_workload(_nest(overrides), generation)
    return _flatten(adapted.config), list(adapted.translations), list(adapted.refusals)


def results_base(req, benchmark, model):
    """<results>/<division>/<org>/results/<system>/<benchmark>/<model> (rules.md §8.2)."""
    return "/".join([req["paths"]["results_dir"].rstrip("/"), req["division"], req["org"], "results",
                     req["system"], benchmark, model])


@_inputs.guarded("training")
def plan_training(req):
    """Build the plan. ``req`` keys:

    edition, division, model, accelerator, params (dict), clients [{host, mpi_host, memtotal_bytes, cores}],
    launcher, accelerators_per_host, client_memory_gb (0 = real MemTotal), runs (0 = edition count),
    engine {generation, version, source, profile, lock_hash}, mpi {implementation, version, run_as_root,
    extra_args}, paths {data_dir, results_dir, work_dir, venv_bin}, org, system, allow_invalid.
    """
    plan = {"benchmark": "training", "errors": [], "warnings": [], "notes": []}
    errors = plan["errors"]
    edition, division = str(req["edition"]), req["division"]
    model, accelerator = req["model"], req["accelerator"]
    for message in _workloads.check_pair(model, accelerator, edition, division):
        errors.append(_pair_error(message))
    if errors:
        return plan
    params = req.get("params")
    if params is None:
        params = {}
    if not isinstance(params, dict):
        errors.append(_error("mlperf_params", "mlperf_params is a %s; it must be a mapping of dotted workload keys "
                                              "to values" % type(params).__name__,
                             "write it as a mapping, e.g. mlperf_params: {reader.read_threads: 8}"))
        return plan
    params = dict(params)
    classes = _workloads.classify_overrides(params, edition, division)
    plan["override_classes"] = classes
    for entry in classes:
        if entry["class"] == _workloads.OPEN and division == "closed":
            errors.append(_error("mlperf_params", "%s may only be overridden in the OPEN division, and "
                                                  "mlperf_division is closed" % entry["key"],
                                 "remove %s from mlperf_params, or set mlperf_division: open" % entry["key"]))

    # Rank layout: one rank per simulated accelerator, the same count on every client.
    clients = req["clients"]
    negative = [_error(variable, "%s is %s; it cannot be negative" % (variable, req.get(key)),
                       "set %s to 0 (the default) or a positive number" % variable)
                for variable, key in (("mlperf_client_memory_gb", "client_memory_gb"), ("mlperf_runs", "runs"))
                if float(req.get(key) or 0) < 0]
    if negative:
        errors.extend(negative)
        return plan
    if not clients:
        errors.append(_error("clients", "the inventory group 'clients' has no hosts",
                             "put the hosts that run benchmark ranks in a group named 'clients'"))
        return plan
    try:
        hosts_slots, np = _mpi.rank_layout([c["mpi_host"] for c in clients], int(req["accelerators_per_host"]))
    except (TypeError, ValueError) as exc:
        errors.append(_error("mlperf_accelerators_per_host", str(exc),
                             "set mlperf_accelerators_per_host to a whole number of at least 1"))
        return plan

    # Dataset size from the clients' real memory unless an explicit per-host figure is given.
    override_memory = float(req.get("client_memory_gb") or 0)
    if override_memory > 0:
        total_memory = int(override_memory * GIB * len(clients))
        memory_source = "mlperf_client_memory_gb=%s per client (explicit override)" % override_memory
        plan["warnings"].append("dataset sized from mlperf_client_memory_gb=%s GiB per client, not from the "
                                "clients' MemTotal; recorded in the metadata" % override_memory)
    else:
        missing = [c["host"] for c in clients if not c.get("memtotal_bytes")]
        if missing:
            errors.append(_error("mlperf_client_memory_gb", "no MemTotal fact for %s" % ", ".join(missing),
                                 "gather facts on every client (the preflight role does) or set "
                                 "mlperf_client_memory_gb"))
            return plan
        total_memory = sum(int(c["memtotal_bytes"]) for c in clients)
        memory_source = "sum of MemTotal of %d client(s)" % len(clients)

    try:
        template = _workloads.load_workload(model, accelerator, edition)
        datagen_template = _workloads.load_datagen_workload(model, edition)
        # The size rule is stated in the reference workload's samples (record length and batch size may not
        # change); only the OPEN-allowed samples-per-file of the user counts, as the rules engine does.
        sizing = _workloads.merge_overrides(template, {k: v for k, v in params.items()
                                                       if k == "dataset.num_samples_per_file"})
        datasize = _datasize.training_datasize_for_workload(sizing, total_memory, np, edition)
    except (_workloads.WorkloadError, _datasize.DatasizeError) as exc:
        errors.append(_error("mlperf_params", str(exc), "check mlperf_params against the workload"))
        return plan
    datasize["total_memory_bytes"] = total_memory
    datasize["memory_source"] = memory_source
    datasize["num_accelerators"] = np
    plan["datasize"] = datasize

    # Overrides: the user's, the datasize minimum when the user gave no file count, and the tool's paths.
    overrides = dict(params)
    if "dataset.num_files_train" not in overrides:
        overrides["dataset.num_files_train"] = datasize["required_files"]
        plan["notes"].append("dataset.num_files_train set to the datasize minimum %d (%s dominates)" % (
            datasize["required_files"], datasize["dominant"]))
    data_folder = "%s/%s" % (req["paths"]["data_dir"].rstrip("/"), model)
    tool_overrides = {"dataset.data_folder": data_folder}
    if (template.get("workflow") or {}).get("checkpoint"):
        tool_overrides["checkpoint.checkpoint_folder"] = "%s/checkpoints/%s" % (
            req["paths"]["data_dir"].rstrip("/"), model)
    overrides.update(tool_overrides)
    num_files = int(_workloads.typed_value(overrides["dataset.num_files_train"]))
    if num_files < datasize["required_files"]:
        plan["warnings"].append("dataset.num_files_train=%d is below the datasize requirement of %d files" % (
            num_files, datasize["required_files"]))

    run_parameters = _workloads.merge_overrides(template, overrides)
    # Data generation writes the same dataset the runs read: same dataset.* settings.
    datagen_overrides = {k: v for k, v in overrides.items() if k.startswith("dataset.")}
    datagen_parameters = _workloads.merge_overrides(datagen_template, datagen_overrides)

    # Engine generation: translate what means the same, refuse what the engine would silently ignore.
    engine = dict(req.get("engine") or {})
    generation = engine.get("generation")
    if not generation:
        errors.append(_error("mlperf_env_profile", "the launcher's environment lock names no engine generation",
                             "provision the clients with a bundled lock profile (playbooks/provision.yml)"))
        return plan
    adapted = {}
    for phase, tmpl, ovr in (("run", template, overrides), ("datagen", datagen_template, datagen_overrides)):
        result = _dlio.adapt_workload(tmpl, generation)
        dotted, translations, refusals = _adapt_overrides(ovr, generation)
        adapted[phase] = {"workload": result.config, "overrides": dotted,
                          "translations": list(result.translations) + translations,
                          "refusals": list(result.refusals) + refusals}
    seen = set()
    for phase in ("run", "datagen"):
        for refusal in adapted[phase]["refusals"]:
            if refusal["key"] in seen:
                continue
            seen.add(refusal["key"])
            fix = refusal["fix"]
            if refusal["key"] in params:
                fix = ("remove %s from mlperf_params (%s)" % (refusal["key"], fix) if fix.startswith("did you mean")
                       else "%s, or remove %s from mlperf_params" % (fix, refusal["key"]))
            errors.append(_error("mlperf_params" if refusal["key"] in overrides else "mlperf_env_profile",
                                 "the installed engine (DLIO %s) would not apply %s: %s" % (
                                     generation, refusal["key"], refusal["reason"]), fix))
    plan["engine"] = dict(engine, translations=adapted["run"]["translations"])

    # MPI commands, with the run directory filled in per run.
    mpi = req["mpi"]
    bin_dir = req["paths"]["venv_bin"].rstrip("/")
    # per client: one host with fewer cores than ranks needs it even when the total would not
    oversubscribe = _inputs.oversubscribed(clients, req["accelerators_per_host"])
    rank_env = {"PATH": "%s:/usr/local/bin:/usr/bin:/bin" % bin_dir}
    config_dir = "%s/%s" % (req["paths"]["work_dir"].rstrip("/"), CONFIG_DIR_NAME)
    commands = {}
    for phase, name in (("run", _workloads.workload_name(model, accelerator)),
                        ("datagen", _workloads.datagen_workload_name(model))):
        program = _dlio.hydra_argv(bin_dir + "/dlio_benchmark", name, RUN_DIR_TOKEN, config_dir,
                                   adapted[phase]["overrides"])
        try:
            argv = _mpi.build_mpi_command(mpi["implementation"], hosts_slots, np, program,
                                          mpirun=bin_dir + "/mpirun" if not mpi.get("mpirun") else mpi["mpirun"],
                                          env=rank_env, run_as_root=bool(mpi.get("run_as_root")),
                                          oversubscribe=oversubscribe, extra_args=mpi.get("extra_args") or None)
        except ValueError as exc:
            errors.append(_error("mpi_implementation", str(exc), "fix the MPI settings"))
            return plan
        commands[phase] = {"workload_name": name, "workload": adapted[phase]["workload"], "argv": argv,
                           "launcher_env": dict(rank_env, **_mpi.launcher_env(mpi["implementation"], rank_env))}
    plan["commands"] = commands
    plan["config_dir"] = config_dir
    plan["rank_layout"] = {"hosts": [list(h) for h in hosts_slots], "np": np, "oversubscribe": oversubscribe}

    rules = _workloads.edition_rules(edition)
    runs = int(req.get("runs") or 0) or int(rules["runs"]["warmup"]) + int(rules["runs"]["measured"])
    base = results_base(req, "training", model)
    plan.update(
        edition=edition, division=division, model=model, accelerator=accelerator, num_processes=np,
        runs=runs, data_folder=data_folder, num_files_train=num_files,
        overrides=overrides, user_overrides=params, tool_overrides=tool_overrides,
        parameters=run_parameters, datagen_parameters=datagen_parameters,
        paths={"run_base": base + "/run", "datagen_base": base + "/datagen", "datasize_base": base + "/datasize",
               "model_base": base},
        dataset_manifest={
            "model": model, "format": (run_parameters.get("dataset") or {}).get("format"),
            "num_files_train": num_files,
            "num_subfolders_train": int((run_parameters.get("dataset") or {}).get("num_subfolders_train") or 0),
            "dataset": copy.deepcopy(run_parameters.get("dataset") or {}),
            "engine_generation": generation,
        },
    )

    # The rules engine classifies the planned run exactly as it will classify the finished one.
    metadata = planned_metadata(plan, req)
    plan["metadata_base"] = metadata
    classification = classify_planned_run(metadata, edition=edition, division=division)
    plan["classification"] = classification
    verdict = classification["verdict"]
    # Keys already reported above (open keys in closed, engine refusals) are not reported twice.
    reported = set(entry["key"] for entry in classes
                   if entry["class"] == _workloads.OPEN and division == "closed")
    reported.update(seen)
    # what the verifier counts as INVALID is said now, not after the last run: the planned run count, and runs
    # already in the controller's tree for this system and model (the verifier counts them all together)
    earlier = req.get("existing_runs") or []
    for issue, as_error in ((_inputs.run_count_issue(runs, edition), _inputs.run_count_error),
                            (_inputs.existing_runs_issue(earlier, runs, edition, req) if division != "whatif"
                             else None, _inputs.existing_runs_error)):
        if not issue:
            continue
        classification["issues"].append(issue)
        classification["verdict"] = verdict = "INVALID"
        if not req.get("allow_invalid"):
            errors.append(as_error(issue))
        reported.add(issue["parameter"])
    if verdict == "INVALID" and not req.get("allow_invalid"):
        for issue in classification["issues"]:
            if issue["validation"] == "INVALID" and issue.get("parameter") not in reported:
                errors.append(_classification_error(issue, "INVALID", division))
                reported.add(issue.get("parameter"))
    elif verdict == "OPEN" and division == "closed":
        for issue in classification["issues"]:
            if issue["validation"] == "OPEN" and issue.get("parameter") not in reported:
                errors.append(_classification_error(issue, "OPEN", division))
                reported.add(issue.get("parameter"))
    return plan


def planned_metadata(plan, req):
    """The metadata fields known before the run (rules.md §8.3); the run adds times, outcome and telemetry."""
    clients = req["clients"]
    memories = [int(c.get("memtotal_bytes") or 0) for c in clients]
    return {
        "benchmark_type": "training",
        "model": plan["model"],
        "command": "run",
        "num_processes": plan["num_processes"],
        "accelerator": plan["accelerator"],
        "parameters": plan["parameters"],
        "override_parameters": plan["overrides"],
        "system_info": {
            "total_memory_bytes": plan["datasize"]["total_memory_bytes"],
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
        "args": {
            "mode": plan["division"],
            "closed": plan["division"] == "closed",
            "model": plan["model"],
            "accelerator_type": plan["accelerator"],
            "num_accelerators": plan["num_processes"],
            "num_client_hosts": len(clients),
            "client_host_memory_in_gb": plan["datasize"]["total_memory_bytes"] / GIB / max(len(clients), 1),
            "hosts": [c["mpi_host"] for c in clients],
            "data_dir": req["paths"]["data_dir"],
            "results_dir": req["paths"]["results_dir"],
            "orgname": req["org"],
            "systemname": req["system"],
            "params": plan["user_overrides"],
            "allow_invalid_params": bool(req.get("allow_invalid")),
            "loops": 1,
        },
        "engine": {"name": "dlio", **{k: v for k, v in (req.get("engine") or {}).items()}},
        "tool": {"name": "mlperf.storage"},
    }
