# -*- coding: utf-8 -*-
# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The plan of a checkpointing benchmark: everything decided on the controller before anything runs.

Plain Python. Same plan shape as the training plan, so the generic phase role (roles/run_phase) runs it:
``commands.run.argv`` (with @RUN_DIR@), ``commands.run.launcher_env``, ``metadata_base``,
``classification``, ``engine``, ``errors``, ``warnings``. A checkpointing result is one combined
invocation (10 writes + 10 reads) or, with ``split``, a write-only invocation followed by a read-only one
(rules.md §4.3, §4.6); each invocation is one entry of ``phases`` holding its own commands, metadata and
classification, to be laid over the plan for its run_phase call.
"""
from __future__ import annotations

import copy

from ansible_collections.mlperf.storage.plugins.plugin_utils import _datasize, _dlio, _inputs, _workloads
from ansible_collections.mlperf.storage.plugins.plugin_utils._plan_core import (
    GIB, RUN_DIR_TOKEN, plan_function, problem)

CHECKPOINTS_PER_PHASE = 10
# Keys the launcher sets itself (rules.md §4.2); the user may add checkpoint_folder in CLOSED, anything in OPEN.
TOOL_KEYS = ("checkpoint.checkpoint_folder", "checkpoint.num_checkpoints_write", "checkpoint.num_checkpoints_read")
# Keys subset mode sets (checkpointing_subset; rules.md §4.2): never taken from mlperf_params.
SUBSET_KEYS = ("checkpoint.mode", "model.parallelism.data")

# rules-engine issue parameter -> the variable that changes it
_ISSUE_VARIABLES = {
    "model": "mlperf_model", "accelerator": "mlperf_accelerator", "division": "mlperf_division",
    "edition": "mlperf_edition", "engine.generation": "mlperf_env_profile",
    "num_processes": "mlperf_accelerators_per_host", "processes_per_host": "mlperf_accelerators_per_host",
    "args.checkpoint_folder": "checkpointing_folder", "args.results_dir": "mlperf_results_dir",
}


def workload_name(model):
    """Hydra workload name of an LLM checkpointing model: llama3-70b -> llama3_70b."""
    return str(model).replace("-", "_")


def load_workload(model):
    """The reference checkpointing workload (dict, MLPerf key names) of a model."""
    return _workloads.read_workload(workload_name(model) + ".yaml", "checkpointing %s" % model)


def phase_counts(split, writes=CHECKPOINTS_PER_PHASE, reads=CHECKPOINTS_PER_PHASE):
    """[(phase name, writes, reads)]: one combined invocation, or write-only then read-only (rules.md §4.3)."""
    if split:
        return [("write", writes, 0), ("read", 0, reads)]
    return [("run", writes, reads)]


COUNT_VARIABLES = (("num_checkpoints_write", "checkpointing_num_checkpoints_write"),
                   ("num_checkpoints_read", "checkpointing_num_checkpoints_read"))


def checkpoint_counts(planner, req, division):
    """(writes, reads) of the plan: 10 each unless set, and other counts only in OPEN/WHATIF (rules Table 3: CLOSED
    writes and reads exactly 10, split into two invocations at most); problems name the variable."""
    counts = {}
    for key, variable in COUNT_VARIABLES:
        raw = req.get(key)
        value = CHECKPOINTS_PER_PHASE if raw is None else _inputs.as_int(raw)
        if value is None or value < 0:
            planner.fail(variable, "%s is %s; it must be a whole number of checkpoints, 0 or more"
                         % (variable, _inputs.shown(raw)), "set %s to %d (the rules' count)" % (variable,
                                                                                              CHECKPOINTS_PER_PHASE))
            value = CHECKPOINTS_PER_PHASE
        elif value != CHECKPOINTS_PER_PHASE and division == "closed":
            planner.fail(variable, "%s is %d; CLOSED writes and reads exactly %d checkpoints (rules Table 3)"
                         % (variable, value, CHECKPOINTS_PER_PHASE),
                         "remove %s (or set it to %d), or set mlperf_division: open" % (variable,
                                                                                     CHECKPOINTS_PER_PHASE))
        counts[key] = value
    writes, reads = counts["num_checkpoints_write"], counts["num_checkpoints_read"]
    if not writes and not reads:
        planner.fail("checkpointing_num_checkpoints_write", "checkpointing_num_checkpoints_write and "
                     "checkpointing_num_checkpoints_read are both 0: the run would neither write nor read",
                     "write at least one checkpoint (checkpointing_num_checkpoints_write)")
    elif req.get("split") and not (writes and reads):
        planner.fail("checkpointing_split", "checkpointing_split makes a write phase and a read phase, but %s is 0"
                     % ("checkpointing_num_checkpoints_write" if not writes else "checkpointing_num_checkpoints_read"),
                     "set checkpointing_split: false for a write-only or read-only run, or give both counts")
    if (writes, reads) != (CHECKPOINTS_PER_PHASE, CHECKPOINTS_PER_PHASE) and division != "closed":
        planner.note("%d checkpoint writes and %d reads (the rules' result has %d of each; OPEN only)"
                     % (writes, reads, CHECKPOINTS_PER_PHASE))
    return writes, reads


def _process_count_error(model, spec, np, clients, per_host, division):
    """A clear error for a process count the division cannot accept, or None."""
    closed_n, tp_pp = spec["closed_processes"], spec["tp_pp"]
    if isinstance(per_host, str) and ":" in per_host:  # per-host counts (host variables): name each host's
        layout = "%d client(s) with their own mlperf_accelerators_per_host (%s) = %d processes" % (
            clients, per_host, np)
    else:
        layout = "%d client(s) x mlperf_accelerators_per_host=%s = %d processes" % (clients, per_host, np)
    if division == "closed" and np != closed_n:
        hint = ""
        if closed_n % clients == 0:
            hint = " (with %d client(s): mlperf_accelerators_per_host: %d)" % (clients, closed_n // clients)
        return problem("mlperf_accelerators_per_host",
                       "%s in CLOSED needs exactly %d processes (TPxPPxDP of rules Table 2); the inventory gives %s"
                      % (model, closed_n, layout),
                      "make clients x mlperf_accelerators_per_host equal %d%s, or set mlperf_division: open "
                      "(any multiple of TPxPP=%d)" % (closed_n, hint, tp_pp))
    if np % tp_pp != 0:
        return problem("mlperf_accelerators_per_host",
                       "%s needs a positive multiple of TPxPP=%d processes (OPEN) or exactly %d (CLOSED); the "
                      "inventory gives %s" % (model, tp_pp, closed_n, layout),
                      "make clients x mlperf_accelerators_per_host a multiple of %d" % tp_pp)
    return None


def subset_form(section, spec, model, np, division):
    """Subset mode (checkpointing_subset) for ``np`` processes of ``model``, from the edition's checkpointing
    section (rules.md §4.2, rule 4.3.5): {declared, data_parallelism, problem}.

    ``declared``: the edition's declared subset form (``subset_processes`` processes of one of ``subset_models``),
    recorded as args.checkpoint_subset like upstream --checkpoint-subset; the only form CLOSED accepts. Below the
    model's full count the ranks are the first of the full run: ``data_parallelism`` is upstream's
    closed_processes / TPxPP, sent with checkpoint.mode subset (None at the full count, where the invocation is the
    full one). ``problem``: (message, fix) when the division refuses it, else None."""
    edition_np = section.get("subset_processes")
    models = list(section.get("subset_models") or [])
    closed_n, tp_pp = spec["closed_processes"], spec["tp_pp"]
    declared = bool(edition_np) and model in models and np == edition_np
    below = np < closed_n
    out = {"declared": declared, "data_parallelism": closed_n // tp_pp if below else None, "problem": None}
    if not edition_np:
        out["problem"] = ("the edition defines no checkpointing subset mode", "set checkpointing_subset: false")
    elif division == "closed" and not declared:
        if model in models:
            out["problem"] = ("a CLOSED %s subset run has exactly %d processes (rules 4.3.5); the inventory gives %d"
                              % (model, edition_np, np),
                              "make clients x mlperf_accelerators_per_host equal %d, or set checkpointing_subset: "
                              "false" % edition_np)
        else:
            out["problem"] = ("CLOSED allows subset mode only for %s on exactly %d processes (rules 4.3.5), not for "
                              "%s" % (" or ".join(models), edition_np, model),
                              "set checkpointing_subset: false for the full %s run (%d processes), or set "
                              "mlperf_division: open for a subset of it (fewer than %d processes, a multiple of "
                              "TPxPP=%d)" % (model, closed_n, closed_n, tp_pp))
    elif not declared and not below:
        ways = ["run fewer than %d processes (a multiple of TPxPP=%d)" % (closed_n, tp_pp)] if closed_n > tp_pp else []
        if model in models:
            ways.insert(0, "run exactly %d processes (the declared %s subset)" % (edition_np, model))
        out["problem"] = ("subset mode runs part of a full %s run of %d processes, and the inventory gives %d "
                          "processes" % (model, closed_n, np),
                          "set checkpointing_subset: false%s" % "".join(", or " + way for way in ways))
    return out


def _subset_engine_problem(generation):
    """A problem when the engine generation has no subset mode (it would run as if checkpoint.mode were absent)."""
    if "subset" in (_dlio.generation_info(generation).get("checkpoint_modes") or ()):
        return None
    return problem("mlperf_env_profile",
                   "checkpointing_subset is true, but the installed DLIO (%s) has no subset checkpoint mode (no "
                   "checkpoint.mode, no model.parallelism.data): it would run as if they were absent and write another "
                   "checkpoint than the subset's" % generation,
                   "set mlperf_env_profile: submission and run playbooks/provision.yml (the MLPerf DLIO builds "
                   "implement subset mode), or set checkpointing_subset: false")


def _engine_refusal(generation, refusals, model):
    """One error for an engine generation that cannot run checkpointing at all (PyPI 2.0.0)."""
    keys = sorted(set(r["key"] for r in refusals))
    shown = ", ".join(keys[:6]) + (" and %d more" % (len(keys) - 6) if len(keys) > 6 else "")
    return problem("mlperf_env_profile",
                   "the installed DLIO (%s) cannot run the %s checkpointing workload: it would ignore %s and exit 0 "
                  "without writing a checkpoint" % (generation, model, shown),
                  "set mlperf_env_profile: submission and run playbooks/provision.yml (installs the MLPerf DLIO "
                  "build from its pinned git source on every client)")


def _describe(issue, verdict):
    """(variable, fix) of one classification finding of a planned checkpointing invocation."""
    parameter = issue.get("parameter")
    variable = _ISSUE_VARIABLES.get(parameter, "mlperf_params")
    if parameter == "processes_per_host":
        return variable, ("run more than 4 processes on every client: fewer clients with a higher "
                          "mlperf_accelerators_per_host (CLOSED rules 4.6.2)")
    if variable == "mlperf_params" and verdict == "OPEN":
        return variable, "remove %s from mlperf_params, or set mlperf_division: open" % parameter
    if variable == "mlperf_params":
        return variable, "remove %s from mlperf_params" % parameter
    return variable, "change %s as the message says" % variable


@plan_function("checkpointing")
def plan_checkpointing(planner, req):
    """Build the plan. ``req`` keys:

    edition, division, model, accelerator, params (OPEN overrides, dotted), clients [{host, mpi_host,
    memtotal_bytes, cores}], launcher, accelerators_per_host (processes per client), split (bool), subset (bool),
    checkpoint_folder (the model's folder is <checkpoint_folder>/<model>), engine {generation, version, source,
    profile, lock_hash}, mpi {implementation, mpirun, run_as_root, extra_args}, paths {results_dir,
    controller_results_dir, work_dir, venv_bin}, org, system, allow_invalid.
    """
    plan = planner.plan
    edition_name, division = str(req["edition"]), req["division"]
    model, accelerator = req["model"], req["accelerator"]
    edition = planner.edition()
    section = edition.section("checkpointing")
    models = sorted(section.get("models") or {})
    spec = edition.checkpoint_model(model)
    if not spec:
        planner.fail("mlperf_model", "%r is not a checkpointing model of edition %s" % (model, edition_name),
                     "set mlperf_model to one of %s" % ", ".join(models))
    accelerators = edition.by_division("checkpointing", "accelerators", division)
    if accelerator not in (section.get("accelerator_memory_gb") or {}) or (accelerators and
                                                                            accelerator not in accelerators):
        planner.fail("mlperf_accelerator", "accelerator %r cannot be simulated for checkpointing in the %s division "
                                           "of edition %s" % (accelerator, division, edition_name),
                     "set mlperf_accelerator to one of %s" % ", ".join(accelerators))
    params = planner.mapping(req.get("params"), "mlperf_params",
                             "write it as a mapping, e.g. mlperf_params: {checkpoint.checkpoint_folder: /mnt/ckpt}",
                             what="a mapping of dotted workload keys to values")
    clients = planner.clients("checkpoint ranks")
    planner.stop()
    for key in ("checkpoint.num_checkpoints_write", "checkpoint.num_checkpoints_read"):
        if key in params:
            planner.fail("mlperf_params", "%s is set by the plan (10 per phase; checkpointing_split chooses one "
                                          "combined run or a write run then a read run)" % key,
                         "remove %s from mlperf_params; in OPEN set checkpointing_%s instead" % (
                             key, key.split(".")[1]))
    for key in SUBSET_KEYS:
        if key in params:
            planner.fail("mlperf_params", "%s is set by the plan: checkpointing_subset: true runs subset mode with "
                                          "the data parallelism of the rules (rules.md 4.2)" % key,
                         "remove %s from mlperf_params; set checkpointing_subset: true for subset mode" % key)
    writes, reads = checkpoint_counts(planner, req, division)
    if division == "closed":
        for key in sorted(params):
            if key != "checkpoint.checkpoint_folder" and key not in TOOL_KEYS + SUBSET_KEYS:
                planner.fail("mlperf_params", "%s may not be changed in CLOSED: only checkpoint.checkpoint_folder "
                                              "is tunable (rules 4.6.3)" % key,
                             "remove %s from mlperf_params, or set mlperf_division: open" % key)

    # a client's own mlperf_accelerators_per_host (a host variable) wins: uneven host:slots, np is the sum
    ranks = planner.ranks(clients, req["accelerators_per_host"], own="accelerators_per_host")
    np = ranks["np"]
    slots = sorted(set(count for _, count in ranks["hosts"]))
    per_host = slots[0] if len(slots) == 1 else "+".join("%s:%d" % tuple(h) for h in ranks["hosts"])
    subset = subset_form(section, spec, model, np, division) if req.get("subset") else None
    if subset and subset["problem"]:
        planner.fail("checkpointing_subset", "checkpointing_subset is true, but " + subset["problem"][0],
                     subset["problem"][1])
        planner.reported.update(("num_processes", "checkpoint.mode"))
    # the declared subset form is the edition's own process count (in 2.0, 8 processes of any model)
    count_problem = None if subset and (subset["problem"] or subset["declared"]) else _process_count_error(
        model, spec, np, len(clients), per_host, division)
    if count_problem:
        planner.errors.append(count_problem)
        planner.reported.add("num_processes")
    planner.stop()
    subset_overrides = {}
    if subset and subset["data_parallelism"]:
        subset_overrides = {"checkpoint.mode": "subset", "model.parallelism.data": subset["data_parallelism"]}

    # Size: what the ranks write per checkpoint, against simulated accelerator and client memory.
    datasize = _datasize.checkpoint_datasize(model, np, subset_of=spec["closed_processes"] if subset_overrides
                                             else None)
    memory_gb = (section.get("accelerator_memory_gb") or {})[accelerator]
    datasize["accelerator_memory_gb"] = memory_gb
    datasize["aggregate_accelerator_memory_gb"] = np * memory_gb
    datasize["checkpoint_size_gb"] = spec.get("checkpoint_size_gb")
    host_memory = [int(c.get("memtotal_bytes") or 0) for c in clients]
    if all(host_memory):
        per_host_memory = sum(host_memory) / len(clients) / GIB
        per_host_data = datasize["total_gb"] / len(clients)
        datasize["per_host_memory_gib"] = per_host_memory
        datasize["per_host_checkpoint_gb"] = per_host_data
        if per_host_data < 3 * per_host_memory:
            planner.warn("each client writes %.1f GB per checkpoint but has %.1f GiB of memory: below 3x memory, "
                         "reads can be served from the page cache; run the write and read phases apart "
                         "(checkpointing_split: true) with the cache dropped between them "
                         "(checkpointing_drop_caches: true)" % (per_host_data, per_host_memory))
    plan["datasize"] = datasize

    folder = str(params.get("checkpoint.checkpoint_folder")
                 or "%s/%s" % (str(req["checkpoint_folder"]).rstrip("/"), model))
    template = load_workload(model)
    engine = dict(req.get("engine") or {})
    generation = planner.generation()
    if subset:
        engine_problem = _subset_engine_problem(generation)
        if engine_problem:
            planner.errors.append(engine_problem)
            planner.stop()
        planner.note(("subset mode: %d of the %d ranks of a full %s run (checkpoint.mode subset, "
                      "model.parallelism.data %d), %.1f GB per checkpoint" % (
                          np, spec["closed_processes"], model, subset["data_parallelism"], datasize["total_gb"]))
                     if subset_overrides else
                     "declared subset run (args.checkpoint_subset, rules 4.3.5): %s on %d processes, the same "
                     "invocation as the full run" % (model, np))
    planner.uneven_engine_problems(ranks, generation)
    name = workload_name(model)
    plan.update(edition=edition_name, division=division, model=model, accelerator=accelerator, num_processes=np,
                split=bool(req.get("split")), checkpoint_folder=folder, config_dir=planner.config_dir,
                user_overrides=params, workload_name=name, rank_layout=ranks, paths=planner.paths(model, "run"),
                subset=subset and {"declared": subset["declared"], "data_parallelism": subset["data_parallelism"],
                                   "overrides": subset_overrides})

    phases = []
    refused = False
    for phase, phase_writes, phase_reads in phase_counts(req.get("split"), writes, reads):
        overrides = dict(params, **subset_overrides)
        overrides.update({"checkpoint.checkpoint_folder": folder, "checkpoint.num_checkpoints_write": phase_writes,
                          "checkpoint.num_checkpoints_read": phase_reads})
        parameters = _workloads.merge_overrides(template, overrides)
        adapted = _dlio.adapt_workload(parameters, generation)
        if adapted.refusals:
            if not refused:
                refused = True
                if generation == _dlio.PYPI:
                    planner.errors.append(_engine_refusal(generation, adapted.refusals, model))
                else:
                    for refusal in adapted.refusals:
                        planner.fail("mlperf_params" if refusal["key"] in params else "mlperf_env_profile",
                                     "the installed engine (DLIO %s) would not apply %s: %s"
                                     % (generation, refusal["key"], refusal["reason"]), refusal["fix"])
            continue
        dotted = _dlio.translate_overrides(overrides, adapted)
        program = _dlio.hydra_argv(planner.bin_dir + "/dlio_benchmark", name, RUN_DIR_TOKEN, planner.config_dir,
                                   dotted)
        entry = {"phase": phase, "writes": phase_writes, "reads": phase_reads, "overrides": overrides,
                 "parameters": parameters,
                 "commands": {"run": planner.mpi_command(ranks, program, workload_name=name,
                                                         workload=adapted.config)}}
        entry["metadata_base"] = planned_metadata(planner, plan, entry)
        entry["classification"] = planner.classify(entry["metadata_base"])
        phases.append(entry)
    plan["engine"] = dict(engine, translations=[])
    planner.stop()
    plan["phases"] = phases
    # The generic phase role reads these from the plan itself; the first phase stands for the plan.
    for key in ("commands", "metadata_base", "classification"):
        plan[key] = phases[0][key]
    # The workload file holds the reference values; each invocation sets its counts and folder on the command line.
    plan["workload"] = _dlio.adapt_workload(template, generation).config
    plan["config_files"] = planner.config_files({plan["workload_name"]: plan["workload"]})
    for entry in phases:
        planner.classification_problems(entry["classification"], _describe)
    verdicts = [entry["classification"]["verdict"] for entry in phases]
    plan["verdict"] = "INVALID" if "INVALID" in verdicts else "OPEN" if "OPEN" in verdicts else "CLOSED"
    if plan["split"]:
        planner.note("write phase (%d writes) then read phase (%d reads); the read phase must start within %s s of "
                     "the end of the write phase (rules 4.7.1)" % (writes, reads, section.get("max_phase_gap_s", 30)))


def planned_metadata(planner, plan, phase):
    """The metadata fields known before an invocation (rules.md §8.3); the run adds times, outcome, telemetry."""
    clients = planner.req["clients"]
    memories = [int(c.get("memtotal_bytes") or 0) for c in clients]
    args = {
        "closed": plan["division"] == "closed",
        "model": plan["model"],
        "accelerator_type": plan["accelerator"],
        "num_processes": plan["num_processes"],
        "num_checkpoints_write": phase["writes"],
        "num_checkpoints_read": phase["reads"],
        "checkpoint_folder": plan["checkpoint_folder"],
        "checkpoint_subset": bool(plan["subset"] and plan["subset"]["declared"]),
        "client_host_memory_in_gb": (sum(memories) / GIB / max(len(clients), 1)) if all(memories) else None,
        "params": plan["user_overrides"],
    }
    return planner.metadata(plan["model"], plan["num_processes"], plan["accelerator"],
                            copy.deepcopy(phase["parameters"]), dict(phase["overrides"]), args, clients=clients,
                            engine_name="dlio", phase=phase["phase"], datasize=plan["datasize"])
