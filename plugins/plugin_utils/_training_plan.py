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

from ansible_collections.mlperf.storage.plugins.plugin_utils import _datasize, _dlio, _inputs, _plan_core, _workloads
from ansible_collections.mlperf.storage.plugins.plugin_utils._plan_core import GIB, RUN_DIR_TOKEN, plan_function

_flatten = _workloads.flatten


def _nest(flat):
    return _workloads.merge_overrides({}, flat)


# rules-engine issue parameter -> the inventory variable that changes it
_ISSUE_VARIABLES = {
    "model": "mlperf_model", "accelerator": "mlperf_accelerator", "division": "mlperf_division",
    "edition": "mlperf_edition", "engine.generation": "mlperf_env_profile",
    "num_processes": "mlperf_accelerators_per_host", "num_hosts": "mlperf_accelerators_per_host",
    "args.data_dir": "mlperf_data_dir", "args.results_dir": "mlperf_results_dir",
}


def _describe(issue, verdict, required_files, division):
    """(variable, fix) of one classification finding of a planned training run."""
    parameter = issue.get("parameter")
    variable = _ISSUE_VARIABLES.get(parameter, "mlperf_params")
    if parameter == "dataset.num_files_train" and issue.get("rule_id") == "3.1.2":
        return variable, ("set dataset.num_files_train to at least %d in mlperf_params, or remove it from "
                          "mlperf_params (the plan then uses the datasize minimum)" % required_files)
    if parameter == "engine.generation":
        return variable, ("install the MLPerf DLIO build on every client (mlperf_env_profile: submission, then "
                          "playbooks/provision.yml)")
    if verdict == "OPEN":
        return variable, "remove %s from mlperf_params, or set mlperf_division: open" % parameter
    if variable == "mlperf_params" and parameter:
        return variable, "remove %s from mlperf_params (the %s division keeps the reference value)" % (
            parameter, division)
    return variable, "change %s as the message says" % variable


def _adapt_overrides(overrides, generation):
    """Adapt dotted overrides to the engine generation: (adapted dotted dict, translations, refusals)."""
    if not overrides:
        return {}, [], []
    adapted = _dlio.adapt_workload(_nest(overrides), generation)
    return _flatten(adapted.config), list(adapted.translations), list(adapted.refusals)


@plan_function("training")
def plan_training(planner, req):
    """Build the plan. ``req`` keys:

    edition, division, model, accelerator, params (dict), clients [{host, mpi_host, memtotal_bytes, cores}],
    launcher, accelerators_per_host, client_memory_gb (0 = real MemTotal), runs (0 = edition count),
    engine {generation, version, source, profile, lock_hash}, mpi {implementation, version, run_as_root,
    extra_args}, paths {data_dir, results_dir, controller_results_dir, work_dir, venv_bin}, org, system,
    allow_invalid, existing_runs (runs already in the controller's tree for this system and model).
    """
    plan = planner.plan
    edition, division = str(req["edition"]), req["division"]
    model, accelerator = req["model"], req["accelerator"]
    planner.errors.extend(_workloads.check_pair(model, accelerator, edition, division))
    planner.stop()
    params = planner.mapping(req.get("params"), "mlperf_params",
                             "write it as a mapping, e.g. mlperf_params: {reader.read_threads: 8}",
                             what="a mapping of dotted workload keys to values")
    planner.stop()
    classes = _workloads.classify_overrides(params, edition, division)
    plan["override_classes"] = classes
    for entry in classes:
        if entry["class"] == _workloads.OPEN and division == "closed":
            planner.fail("mlperf_params", "%s may only be overridden in the OPEN division, and mlperf_division is "
                                          "closed" % entry["key"],
                         "remove %s from mlperf_params, or set mlperf_division: open" % entry["key"])
            planner.reported.add(entry["key"])

    # Rank layout: one rank per simulated accelerator, the same count on every client.
    found = len(planner.errors)
    for variable, key in (("mlperf_client_memory_gb", "client_memory_gb"), ("mlperf_runs", "runs")):
        if float(req.get(key) or 0) < 0:
            planner.fail(variable, "%s is %s; it cannot be negative" % (variable, req.get(key)),
                         "set %s to 0 (the default) or a positive number" % variable)
    planner.stop(since=found)
    clients = planner.clients()
    planner.stop(since=found)
    # a client's own mlperf_accelerators_per_host (a host variable) wins: uneven host:slots, np is the sum
    ranks = planner.ranks(clients, req["accelerators_per_host"], own="accelerators_per_host")
    np = ranks["np"]

    # Dataset size from the clients' real memory unless an explicit per-host figure is given.
    override_memory = float(req.get("client_memory_gb") or 0)
    if override_memory > 0:
        total_memory = int(override_memory * GIB * len(clients))
        memory_source = "mlperf_client_memory_gb=%s per client (explicit override)" % override_memory
        planner.warn("dataset sized from mlperf_client_memory_gb=%s GiB per client, not from the clients' MemTotal; "
                     "recorded in the metadata" % override_memory)
    else:
        missing = [c["host"] for c in clients if not c.get("memtotal_bytes")]
        if missing:
            planner.fail("mlperf_client_memory_gb", "no MemTotal fact for %s" % ", ".join(missing),
                         "gather facts on every client (the preflight role does) or set mlperf_client_memory_gb")
            planner.stop()
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
        planner.fail("mlperf_params", str(exc), "check mlperf_params against the workload")
        planner.stop()
    datasize.update(total_memory_bytes=total_memory, memory_source=memory_source, num_accelerators=np)
    plan["datasize"] = datasize

    # Overrides: the user's, the datasize minimum when the user gave no file count, and the tool's paths.
    overrides = dict(params)
    if "dataset.num_files_train" not in overrides:
        overrides["dataset.num_files_train"] = datasize["required_files"]
        planner.note("dataset.num_files_train set to the datasize minimum %d (%s dominates)" % (
            datasize["required_files"], datasize["dominant"]))
    data_folder = "%s/%s" % (req["paths"]["data_dir"].rstrip("/"), model)
    tool_overrides = {"dataset.data_folder": data_folder}
    if (template.get("workflow") or {}).get("checkpoint"):
        tool_overrides["checkpoint.checkpoint_folder"] = "%s/checkpoints/%s" % (
            req["paths"]["data_dir"].rstrip("/"), model)
    overrides.update(tool_overrides)
    num_files = int(_workloads.typed_value(overrides["dataset.num_files_train"]))
    if num_files < datasize["required_files"]:
        planner.warn("dataset.num_files_train=%d is below the datasize requirement of %d files" % (
            num_files, datasize["required_files"]))

    run_parameters = _workloads.merge_overrides(template, overrides)
    # Data generation writes the same dataset the runs read: same dataset.* settings.
    datagen_overrides = {k: v for k, v in overrides.items() if k.startswith("dataset.")}
    datagen_parameters = _workloads.merge_overrides(datagen_template, datagen_overrides)

    # Engine generation: translate what means the same, refuse what the engine would silently ignore.
    engine = dict(req.get("engine") or {})
    generation = planner.generation()
    planner.uneven_engine_problems(ranks, generation)
    adapted = {}
    for phase, tmpl, ovr in (("run", template, overrides), ("datagen", datagen_template, datagen_overrides)):
        result = _dlio.adapt_workload(tmpl, generation)
        dotted, translations, refusals = _adapt_overrides(ovr, generation)
        adapted[phase] = {"workload": result.config, "overrides": dotted,
                          "translations": list(result.translations) + translations,
                          "refusals": list(result.refusals) + refusals}
    refused = set()
    for phase in ("run", "datagen"):
        for refusal in adapted[phase]["refusals"]:
            if refusal["key"] in refused:
                continue
            refused.add(refusal["key"])
            fix = refusal["fix"]
            if refusal["key"] in params:
                fix = ("remove %s from mlperf_params (%s)" % (refusal["key"], fix) if fix.startswith("did you mean")
                       else "%s, or remove %s from mlperf_params" % (fix, refusal["key"]))
            planner.fail("mlperf_params" if refusal["key"] in overrides else "mlperf_env_profile",
                         "the installed engine (DLIO %s) would not apply %s: %s" % (
                             generation, refusal["key"], refusal["reason"]), fix)
    planner.reported.update(refused)
    plan["engine"] = dict(engine, translations=adapted["run"]["translations"])

    # MPI commands, with the run directory filled in per run. Data generation may have a layout of its own
    # (upstream datagen --num-processes): the dataset is the same whatever the rank count that writes it.
    before = len(planner.errors)
    datagen_ranks = datagen_layout(planner, clients, req.get("datagen_processes"), ranks)
    planner.stop(since=before)
    if datagen_ranks is not ranks:
        planner.uneven_engine_problems(datagen_ranks, generation, variable="training_datagen_processes")
    commands = {}
    for phase, name, layout in (("run", _workloads.workload_name(model, accelerator), ranks),
                                ("datagen", _workloads.datagen_workload_name(model), datagen_ranks)):
        program = _dlio.hydra_argv(planner.bin_dir + "/dlio_benchmark", name, RUN_DIR_TOKEN, planner.config_dir,
                                   adapted[phase]["overrides"])
        commands[phase] = planner.mpi_command(layout, program, workload_name=name,
                                              workload=adapted[phase]["workload"], num_processes=layout["np"])
    plan.update(commands=commands, config_dir=planner.config_dir, rank_layout=ranks, datagen_rank_layout=datagen_ranks,
                config_files=planner.config_files(dict((c["workload_name"], c["workload"]) for c in commands.values())))

    rules = _workloads.edition_rules(edition)
    runs = int(req.get("runs") or 0) or int(rules["runs"]["warmup"]) + int(rules["runs"]["measured"])
    plan.update(
        edition=edition, division=division, model=model, accelerator=accelerator, num_processes=np,
        runs=runs, data_folder=data_folder, num_files_train=num_files,
        overrides=overrides, user_overrides=params, tool_overrides=tool_overrides,
        parameters=run_parameters, datagen_parameters=datagen_parameters,
        paths=dict(planner.paths(model, "run", "datagen", "datasize")),
        dataset_manifest={
            "model": model, "format": (run_parameters.get("dataset") or {}).get("format"),
            "num_files_train": num_files,
            "num_subfolders_train": int((run_parameters.get("dataset") or {}).get("num_subfolders_train") or 0),
            "dataset": copy.deepcopy(run_parameters.get("dataset") or {}),
            "engine_generation": generation,
        },
    )

    # The rules engine classifies the planned run exactly as it will classify the finished one; what the
    # verifier counts as INVALID is said now, not after the last run (the run count, and earlier runs of this
    # system and model in the controller's tree, which the verifier counts together with these).
    metadata = planned_metadata(planner, plan)
    plan["metadata_base"] = metadata
    classification = planner.classify(metadata)
    plan["classification"] = classification
    if not req.get("datagen_only"):  # data generation alone adds no run to the tree
        planner.run_count_problems(classification, runs, req.get("existing_runs"))
    planner.classification_problems(
        classification, lambda issue, verdict: _describe(issue, verdict, datasize["required_files"], division))


def datagen_layout(planner, clients, processes, run_ranks):
    """The rank layout of data generation: the run's (``processes`` 0 or unset), or ``processes`` ranks spread over
    the clients in order, as evenly as they go (the first ones take one more; a client left without a rank is left
    out). A bad count is a problem naming training_datagen_processes."""
    if processes in (None, "", 0, "0"):
        return run_ranks
    number = _inputs.as_int(processes)
    if number is None or number < 1:
        planner.fail("training_datagen_processes", "training_datagen_processes is %s; it must be a whole number of "
                     "at least 1" % _inputs.shown(processes),
                     "set training_datagen_processes to the number of data generation processes, or 0 for the "
                     "run's own layout")
        return run_ranks
    hosts = [c["mpi_host"] for c in clients]
    base, extra = divmod(number, len(hosts))
    counts = [base + (1 if i < extra else 0) for i in range(len(hosts))]
    used = [(host, count) for host, count in zip(hosts, counts) if count]
    per_client = [dict(c, ranks=count) for c, count in zip(clients, counts) if count]
    return {"hosts": [list(h) for h in used], "np": number,
            "oversubscribe": _plan_core.oversubscribed(per_client, base)}


def planned_metadata(planner, plan):
    """The metadata fields known before the run (rules.md §8.3); the run adds times, outcome and telemetry."""
    req, clients = planner.req, planner.req["clients"]
    args = {
        "closed": plan["division"] == "closed",
        "model": plan["model"],
        "accelerator_type": plan["accelerator"],
        "num_accelerators": plan["num_processes"],
        "client_host_memory_in_gb": plan["datasize"]["total_memory_bytes"] / GIB / max(len(clients), 1),
        "data_dir": req["paths"]["data_dir"],
        "params": plan["user_overrides"],
    }
    return planner.metadata(plan["model"], plan["num_processes"], plan["accelerator"], plan["parameters"],
                            plan["overrides"], args, clients=clients,
                            total_memory=plan["datasize"]["total_memory_bytes"], engine_name="dlio")
