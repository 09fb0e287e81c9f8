# -*- coding: utf-8 -*-
# Copyright: mlperf.storage contributors
# Apache License 2.0 (see LICENSE)
"""The plan of a training benchmark: everything decided on the controller before anything runs.

Plain Python. Input is what the inventory and the clients' facts say; output is a JSON-able plan: the
DLIO workload and overrides (adapted to the installed engine generation), the dataset size from the
clients' real memory, the MPI rank layout and commands, the results paths, the metadata skeleton and
the rules engine's classification of the planned run. Problems are collected, never raised, so the
caller can show all of them at once.
"""
from __future__ import annotations

import copy

from ansible_collections.mlperf.storage.plugins.module_utils import _mpi
from ansible_collections.mlperf.storage.plugins.plugin_utils import _datasize, _dlio, _workloads
from ansible_collections.mlperf.storage.plugins.plugin_utils.rules import classify_planned_run

GIB = 1024 ** 3
RUN_DIR_TOKEN = "@RUN_DIR@"
CONFIG_DIR_NAME = "dlio_workloads"


def _flatten(tree, prefix=""):
    flat = {}
    for key, value in tree.items():
        dotted = prefix + str(key)
        if isinstance(value, dict) and value:
            flat.update(_flatten(value, dotted + "."))
        else:
            flat[dotted] = value
    return flat


def _nest(flat):
    return _workloads.merge_overrides({}, flat)


def _error(variable, message, fix):
    return {"variable": variable, "message": message, "fix": fix}


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
        variable = message.split(":", 1)[0] if message.startswith("mlperf_") else "mlperf_model"
        errors.append(_error(variable, message, "see docs/inventory.md for the models and accelerators "
                                                "each edition and division allows"))
    if errors:
        return plan
    params = dict(req.get("params") or {})
    try:
        classes = _workloads.classify_overrides(params, edition, division)
    except _workloads.WorkloadError as exc:
        errors.append(_error("mlperf_params", str(exc), "give mlperf_params as a mapping of dotted keys"))
        return plan
    plan["override_classes"] = classes
    for entry in classes:
        if entry["class"] == _workloads.OPEN and division == "closed":
            errors.append(_error("mlperf_params", entry["message"],
                                 "use mlperf_division: open, or remove %s from mlperf_params" % entry["key"]))

    # Rank layout: one rank per simulated accelerator, the same count on every client.
    clients = req["clients"]
    try:
        hosts_slots, np = _mpi.rank_layout([c["mpi_host"] for c in clients], int(req["accelerators_per_host"]))
    except ValueError as exc:
        errors.append(_error("mlperf_accelerators_per_host", str(exc), "set it to a positive integer"))
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
        user_config = _workloads.merge_overrides(template, params)
        datasize = _datasize.training_datasize_for_workload(user_config, total_memory, np, edition)
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
            errors.append(_error("mlperf_params" if refusal["key"] in overrides else "mlperf_env_profile",
                                 "the installed engine (DLIO %s) would not apply %s: %s" % (
                                     generation, refusal["key"], refusal["reason"]), refusal["fix"]))
    plan["engine"] = dict(engine, translations=adapted["run"]["translations"])

    # MPI commands, with the run directory filled in per run.
    mpi = req["mpi"]
    bin_dir = req["paths"]["venv_bin"].rstrip("/")
    total_cores = sum(int(c.get("cores") or 0) for c in clients)
    oversubscribe = bool(total_cores) and np > total_cores
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
    if verdict == "INVALID" and not req.get("allow_invalid"):
        reasons = [i["message"] for i in classification["issues"] if i["validation"] == "INVALID"]
        errors.append(_error("mlperf_params", "the planned run would be INVALID: " + "; ".join(reasons),
                             "fix the reasons above, or set mlperf_allow_invalid: true to run anyway "
                             "(recorded; never a valid submission)"))
    elif verdict == "OPEN" and division == "closed":
        reasons = [i["message"] for i in classification["issues"] if i["validation"] == "OPEN"]
        errors.append(_error("mlperf_division", "the planned run can only be OPEN: " + "; ".join(reasons),
                             "set mlperf_division: open"))
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
