# -*- coding: utf-8 -*-
# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Sizing a cluster one does not have yet (the upstream tool's ``training datasize`` and ``checkpointing
datasize``): the dataset or checkpoint size from declared host counts and memory, no client needed.

Plain Python. The arithmetic is _datasize's (the same the training plan and the verifier use), the workload
values and edition constants come from the workloads and the edition data. ``datasize_answer`` returns the
whole answer as one JSON-able dict; bad input is a list of {variable, message, fix} problems in ``errors``,
never an exception. For a training model the answer can also carry what the datasize leaf's metadata is made
of (``leaf``), in the shape the run_metadata filter turns into ``training_<ts>_metadata.json``.
"""
from __future__ import annotations

import copy

from ansible_collections.mlperf.storage.plugins.plugin_utils import _checkpointing_plan, _datasize, _inputs
from ansible_collections.mlperf.storage.plugins.plugin_utils import _workloads
from ansible_collections.mlperf.storage.plugins.plugin_utils._plan_core import Planner, problem
from ansible_collections.mlperf.storage.plugins.plugin_utils.rules import layout
from ansible_collections.mlperf.storage.plugins.plugin_utils.rules.edition import (
    DEFAULT_EDITION, EditionError, available_editions, load_edition)

GIB = _datasize.GIB
# Dataset keys the datasize step computes itself; a value given for them is not an input of the size.
COMPUTED_KEYS = ("dataset.num_files_train", "dataset.num_subfolders_train", "dataset.total_disk_bytes")
# Inputs: option of the action -> the playbook variable a problem names.
VARIABLES = {
    "model": "mlperf_model", "accelerator": "mlperf_accelerator", "edition": "mlperf_edition",
    "division": "mlperf_division", "num_client_hosts": "mlperf_num_client_hosts",
    "client_memory_gb": "mlperf_client_memory_gb", "accelerators_per_host": "mlperf_accelerators_per_host",
    "max_accelerators": "mlperf_max_accelerators", "params": "mlperf_params", "data_dir": "mlperf_data_dir",
    "write": "mlperf_datasize_write", "results_dir": "mlperf_controller_results_dir", "org": "mlperf_org",
    "system": "mlperf_system",
}
_WHAT = {
    "model": "the workload to size (a training model such as unet3d, or a checkpointing model such as llama3-8b)",
    "accelerator": "the simulated accelerator (e.g. b200)",
    "num_client_hosts": "how many client hosts the cluster will have",
    "client_memory_gb": "the memory of each client host, in GiB",
    "accelerators_per_host": "simulated accelerators (MPI ranks) per client host",
}
_EXAMPLE = {"model": "unet3d", "accelerator": "b200", "num_client_hosts": "4", "client_memory_gb": "512",
            "accelerators_per_host": "8"}


def _drop_host(found):
    return [problem(p["variable"], p["message"], p["fix"]) for p in found]


def _checkpoint_models():
    """Every checkpointing model of any edition, sorted."""
    names = set()
    for name in available_editions():
        names.update((load_edition(name).section("checkpointing").get("models") or {}).keys())
    return sorted(names)


def _training_models():
    """Every training model of any edition, sorted."""
    names = set()
    for name in available_editions():
        names.update(load_edition(name).training_models())
    return sorted(names)


def _edition_problem(edition):
    return problem("mlperf_edition", "mlperf_edition is '%s'; known editions are %s"
                   % (edition, ", ".join(_workloads.editions())), "set mlperf_edition to one of them (quoted, e.g. "
                                                                  "\"%s\")" % DEFAULT_EDITION)


def _numbers(req, errors):
    """The host counts and memory as numbers; a problem per missing or bad one."""
    out = {}
    for key in ("num_client_hosts", "client_memory_gb", "accelerators_per_host"):
        if req.get(key) in (None, ""):
            errors.append(problem(VARIABLES[key], "%s is not set; it is %s" % (VARIABLES[key], _WHAT[key]),
                                  "pass it, e.g. -e %s=%s" % (VARIABLES[key], _EXAMPLE[key])))
    for key, what in (("num_client_hosts", _WHAT["num_client_hosts"]),
                      ("accelerators_per_host", _WHAT["accelerators_per_host"]),
                      ("max_accelerators", "the largest accelerator count the dataset must serve")):
        if req.get(key) in (None, ""):
            continue
        found = _inputs.int_problems(VARIABLES[key], req[key], 1, what)
        errors.extend(_drop_host(found))
        if not found:
            out[key] = _inputs.as_int(req[key])
    if req.get("client_memory_gb") not in (None, ""):
        found = _inputs.float_problems("mlperf_client_memory_gb", req["client_memory_gb"], 0, _WHAT["client_memory_gb"])
        errors.extend(_drop_host(found))
        if not found and _inputs.as_float(req["client_memory_gb"]) == 0:
            errors.append(problem("mlperf_client_memory_gb", "mlperf_client_memory_gb is 0; for run_training 0 means "
                                  "each client's real MemTotal, but sizing has no clients to read it from",
                                  "set mlperf_client_memory_gb to the memory of each host in GiB, e.g. 512"))
        elif not found:
            out["client_memory_gb"] = _inputs.as_float(req["client_memory_gb"])
    return out


def _write_inputs(req, errors):
    """Whether to write the leaf, and the paths and names it needs (checked only when writing)."""
    value = req.get("write")
    if value in (None, ""):
        return False
    found = _inputs.bool_problems("mlperf_datasize_write", value)
    if found:
        errors.extend(_drop_host(found))
        return False
    write = value if isinstance(value, bool) else str(value).strip().lower() in _inputs.TRUE_WORDS
    if not write:
        return False
    for key in ("org", "system"):
        errors.extend(_drop_host(_inputs.segment_problems(VARIABLES[key], req.get(key))))
    paths = {}
    for key in ("results_dir", "data_dir"):
        found = _inputs.path_problems(VARIABLES[key], req.get(key))
        errors.extend(_drop_host(found))
        if not found:
            paths[VARIABLES[key]] = req[key]
    errors.extend(_drop_host(_inputs.nesting_problems(paths)))
    return True


def datasize_answer(req):
    """The size of a planned cluster's dataset (training model) or checkpoints (checkpointing model).

    ``req`` keys (the action's options): model, accelerator, edition (default: the default edition), division
    (default: the edition's), num_client_hosts, client_memory_gb (GiB per host), accelerators_per_host,
    max_accelerators (optional, training), params (dotted overrides; training), write (bool), and when writing
    results_dir (the controller's tree), org, system, data_dir.

    Returns {errors, warnings, benchmark, ..., lines}: ``errors`` non-empty means nothing else is there.
    """
    req = dict(req or {})
    errors, warnings = [], []
    answer = {"errors": errors, "warnings": warnings}
    edition_name = str(req.get("edition") or DEFAULT_EDITION)
    try:
        edition = load_edition(edition_name)
    except EditionError:
        errors.append(_edition_problem(edition_name))
        return answer
    edition_name = edition.name
    division = str(req.get("division") or edition.data.get("default_division") or "closed")
    model, accelerator = req.get("model"), req.get("accelerator")
    for key in ("model", "accelerator"):
        if req.get(key) in (None, ""):
            errors.append(problem(VARIABLES[key], "%s is not set; it is %s" % (VARIABLES[key], _WHAT[key]),
                                  "pass it, e.g. -e %s=%s" % (VARIABLES[key], _EXAMPLE[key])))
    checkpointing = model in _checkpoint_models()
    if model not in (None, "") and not checkpointing and model not in _training_models():
        errors.append(problem("mlperf_model", "unknown model '%s'; training models are %s, checkpointing models %s"
                              % (model, ", ".join(_training_models()), ", ".join(_checkpoint_models())),
                              "set mlperf_model to one of them"))
    elif checkpointing:
        _checkpoint_pair_problems(edition, model, accelerator, division, errors)
    elif model not in (None, "") and accelerator not in (None, ""):
        errors.extend(_workloads.check_pair(model, accelerator, edition_name, division))
    numbers = _numbers(req, errors)
    write = _write_inputs(req, errors)
    if write and checkpointing:
        errors.append(problem("mlperf_datasize_write", "the datasize leaf is a phase of a training result "
                              "(rules 3.3.1); checkpointing results have none",
                              "set mlperf_datasize_write: false (the checkpoint sizes are printed)"))
    if errors:
        return answer
    answer.update(edition=edition_name, division=division, model=model, accelerator=accelerator,
                  num_client_hosts=numbers["num_client_hosts"], client_memory_gb=numbers["client_memory_gb"],
                  accelerators_per_host=numbers["accelerators_per_host"],
                  cluster_accelerators=numbers["num_client_hosts"] * numbers["accelerators_per_host"])
    if checkpointing:
        if "max_accelerators" in numbers:
            warnings.append("mlperf_max_accelerators is not used for checkpointing: the checkpoint is sized for the "
                            "processes of the cluster (mlperf_num_client_hosts x mlperf_accelerators_per_host)")
        _checkpoint_answer(answer, edition)
    else:
        _training_answer(answer, edition, numbers, req, write)
    if errors:
        return {"errors": errors, "warnings": warnings}
    return answer


# ------------------------------------------------------------------------------------------------ training

def _training_params(req, division, edition_name, errors, warnings):
    """The user's overrides that a run would carry (computed dataset keys dropped), or None after a problem."""
    params = req.get("params")
    if params in (None, ""):
        return {}
    found = _drop_host(_inputs.params_problems(params))
    if found:
        errors.extend(found)
        return None
    for entry in _workloads.classify_overrides(params, edition_name, division):
        if not entry["allowed"]:
            errors.append(problem("mlperf_params", entry["message"],
                                  "remove %s from mlperf_params%s" % (entry["key"], ", or set mlperf_division: open"
                                                                      if entry["class"] == _workloads.OPEN else "")))
    if errors:
        return None
    ignored = sorted(k for k in params if k in COMPUTED_KEYS)
    if ignored:
        warnings.append("%s in mlperf_params ignored: the datasize step computes it" % ", ".join(ignored))
    return {k: v for k, v in params.items() if k not in COMPUTED_KEYS}


def _size(sizing, total_memory, accelerators, edition_name):
    return _datasize.training_datasize_for_workload(sizing, total_memory, accelerators, edition_name)


def _row(sizing, total_memory, accelerators, hosts, edition_name):
    calc = _size(sizing, total_memory, accelerators, edition_name)
    per_host = accelerators // hosts if accelerators % hosts == 0 else None
    return dict({k: calc[k] for k in ("required_files", "files_by_memory", "files_by_steps", "dominant",
                                      "total_disk_bytes")}, accelerators=accelerators, per_host=per_host)


def _search(sizing, total_memory, hosts, largest, edition_name, marks):
    """Which term dominates at each count the cluster can run: multiples of ``hosts`` (the same count on every
    host) up to ``largest``. The steps term only grows with the count, so memory dominates up to one count and
    steps from the next on; that boundary is found by bisection. Rows: the counts in ``marks`` and both sides of
    the boundary."""
    top = largest // hosts

    def memory_dominates(per_host):
        return _size(sizing, total_memory, per_host * hosts, edition_name)["dominant"] == "memory"

    low, high = 0, top  # memory dominates for every per-host count <= low
    if memory_dominates(top):
        low = top
    else:
        while high - low > 1:
            middle = (low + high) // 2
            if memory_dominates(middle):
                low = middle
            else:
                high = middle
    counts = set(m for m in marks if m and m <= largest)
    counts.update(k * hosts for k in (1, low, low + 1, top) if 1 <= k <= top)
    return {
        "counts": {"from": hosts, "to": top * hosts, "step": hosts},
        "memory_dominates": {"from": hosts, "to": low * hosts} if low else None,
        "steps_dominate": {"from": (low + 1) * hosts, "to": top * hosts} if low < top else None,
        "rows": [_row(sizing, total_memory, count, hosts, edition_name) for count in sorted(counts)],
    }


def _training_answer(answer, edition, numbers, req, write):
    errors, warnings = answer["errors"], answer["warnings"]
    name, division, model = edition.name, answer["division"], answer["model"]
    hosts, per_host = numbers["num_client_hosts"], numbers["accelerators_per_host"]
    cluster = hosts * per_host
    largest = numbers.get("max_accelerators")
    if largest is not None and largest < cluster:
        errors.append(problem("mlperf_max_accelerators", "mlperf_max_accelerators is %d, below the %d accelerators "
                              "of the cluster being sized (%d hosts x %d); the dataset must serve the largest run"
                              % (largest, cluster, hosts, per_host),
                              "set mlperf_max_accelerators to %d or more, or leave it unset to size for %d"
                              % (cluster, cluster)))
    params = _training_params(req, division, name, errors, warnings)
    if errors:
        return
    accelerators = cluster if largest is None else largest
    if largest is not None and largest % hosts:
        warnings.append("mlperf_max_accelerators=%d is not a multiple of the %d hosts: a run needs the same count on "
                        "every host (rule 3.3.6), so the largest run is %d; sized for %d as given"
                        % (largest, hosts, largest // hosts * hosts, largest))
    single = edition.section("training").get("min_accelerators_single_host") or 0
    if hosts == 1 and cluster < single:
        warnings.append("one host with %d accelerators: the rules ask for at least %d on a single host (rule 3.3.3, "
                        "a warning)" % (cluster, single))
    template = _workloads.load_workload(model, answer["accelerator"], name)
    # As the training plan: the size rule is stated in the reference workload's samples; only the OPEN-allowed
    # samples per file of the user counts.
    sizing = _workloads.merge_overrides(template, {k: v for k, v in params.items()
                                                   if k == "dataset.num_samples_per_file"})
    total_memory = int(numbers["client_memory_gb"] * GIB * hosts)
    try:
        datasize = _size(sizing, total_memory, accelerators, name)
    except _datasize.DatasizeError as exc:
        errors.append(problem("mlperf_client_memory_gb" if "memory" in str(exc) else "mlperf_params", str(exc),
                              "give a positive memory per host in GiB and keep the workload's sample values"))
        return
    memory_source = "mlperf_client_memory_gb=%s x mlperf_num_client_hosts=%d (declared)" % (
        _shown_number(numbers["client_memory_gb"]), hosts)
    datasize.update(total_memory_bytes=total_memory, memory_source=memory_source, num_accelerators=accelerators)
    dataset, reader = sizing.get("dataset") or {}, sizing.get("reader") or {}
    answer.update(
        benchmark="training", max_accelerators=largest, num_accelerators=accelerators, params=params,
        total_memory_bytes=total_memory, datasize=datasize,
        workload={"name": _workloads.workload_name(model, answer["accelerator"]),
                  "record_length_bytes": dataset.get("record_length_bytes"),
                  "num_samples_per_file": dataset.get("num_samples_per_file", 1),
                  "batch_size": reader.get("batch_size", 1)},
        rules={"steps_per_epoch": edition.steps_per_epoch(), "memory_multiplier": edition.memory_multiplier(),
               "rounding": edition.datasize_rounding()},
        search=_search(sizing, total_memory, hosts, accelerators, name, (cluster, accelerators)),
    )
    if write:
        answer["leaf"] = _leaf(answer, req, template, edition)
    answer["lines"] = _training_lines(answer)


def _leaf(answer, req, template, edition):
    """Where the datasize leaf goes (``base``, a new timestamped folder is made in it) and what the run_metadata
    filter builds its metadata from (``plan``: metadata_base, datasize, engine), as the training role has them."""
    model, datasize = answer["model"], answer["datasize"]
    data_dir = str(req["data_dir"])
    results_dir = str(req["results_dir"])
    overrides = dict(answer["params"])
    overrides.update({"dataset.num_files_train": datasize["required_files"],
                      "dataset.data_folder": "%s/%s" % (data_dir.rstrip("/"), model)})
    parameters = _workloads.merge_overrides(template, overrides)
    planner = Planner("training", {"edition": answer["edition"], "division": answer["division"],
                                   "org": req["org"], "system": req["system"], "allow_invalid": False,
                                   "paths": {"results_dir": results_dir}})
    args = {
        "closed": answer["division"] == "closed", "model": model, "accelerator_type": answer["accelerator"],
        "num_accelerators": answer["num_accelerators"], "client_host_memory_in_gb": answer["client_memory_gb"],
        "num_client_hosts": answer["num_client_hosts"],
        "data_dir": data_dir, "params": answer["params"],
    }
    metadata = planner.metadata(model, answer["num_accelerators"], answer["accelerator"], parameters, overrides, args,
                                engine_name="dlio")
    per_host = int(answer["client_memory_gb"] * GIB)
    # declared, not measured: no host of this cluster was asked
    metadata["system_info"] = {"total_memory_bytes": answer["total_memory_bytes"], "total_cores": None,
                               "num_hosts": answer["num_client_hosts"], "min_memory_bytes": per_host,
                               "max_memory_bytes": per_host, "collection_method": "declared", "hosts": []}
    base = layout.command_base(layout.model_base(results_dir, answer["division"], req["org"], req["system"],
                                                 "training", model), "training", "datasize")
    return {"base": base, "plan": {"metadata_base": metadata, "datasize": copy.deepcopy(datasize),
                                   "engine": {"translations": []}}}


def _shown_number(value):
    return ("%d" % value) if float(value).is_integer() else ("%s" % value)


def _gib(value):
    return "{:,.1f} GiB".format(value / GIB)


def _training_lines(answer):
    ds, wl, rules, search = answer["datasize"], answer["workload"], answer["rules"], answer["search"]
    hosts, memory = answer["num_client_hosts"], _shown_number(answer["client_memory_gb"])
    file_bytes = wl["num_samples_per_file"] * wl["record_length_bytes"]
    lines = [
        "%s on %s, edition %s, %s division: %d host(s) x %s GiB = %s of client memory; sized for %d accelerators%s"
        % (answer["model"], answer["accelerator"], answer["edition"], answer["division"], hosts, memory,
           _gib(answer["total_memory_bytes"]), answer["num_accelerators"],
           " (mlperf_max_accelerators)" if answer["max_accelerators"] is not None else
           " (%d hosts x %d)" % (hosts, answer["accelerators_per_host"])),
        "Required: %d training files in %d subfolders, %s (%d bytes)%s"
        % (ds["required_files"], ds["required_subfolders"], _gib(ds["total_disk_bytes"]), ds["total_disk_bytes"],
           "; more than 10,000 files: dataset.num_subfolders_train: %d keeps about 10,000 per folder"
           % ds["suggested_subfolders"] if ds["suggested_subfolders"] else ""),
        "The %s term dominates: memory term %dx %s / %d bytes per file = %d files (%s); step term %d steps x %d "
        "accelerators x batch %d / %d sample(s) per file = %d files"
        % (ds["dominant"] if ds["dominant"] == "memory" else "step",
           rules["memory_multiplier"], _gib(answer["total_memory_bytes"]), file_bytes, ds["files_by_memory"],
           "rounded %s" % ("up" if rules["rounding"] == "ceil" else "down"), rules["steps_per_epoch"],
           answer["num_accelerators"], wl["batch_size"], wl["num_samples_per_file"], ds["files_by_steps"]),
        "Numbers used: workload %s (record_length_bytes %s, num_samples_per_file %d, batch_size %d); edition %s "
        "(steps_per_epoch %d, memory multiplier %s, memory term rounded %s)"
        % (wl["name"], wl["record_length_bytes"], wl["num_samples_per_file"], wl["batch_size"], answer["edition"],
           rules["steps_per_epoch"], rules["memory_multiplier"], "up" if rules["rounding"] == "ceil" else "down"),
    ]
    ranges = []
    for key, label in (("memory_dominates", "memory dominates"), ("steps_dominate", "steps dominate")):
        span = search[key]
        if span:
            ranges.append("%s for %s" % (label, ("%d" % span["from"]) if span["from"] == span["to"]
                                         else "%d-%d" % (span["from"], span["to"])))
    lines.append("Accelerator counts the %d host(s) can run (multiples of %d) up to %d: %s"
                 % (hosts, search["counts"]["step"], search["counts"]["to"], "; ".join(ranges)))
    for row in search["rows"]:
        lines.append("  %5d accelerators: %d files (%s; memory %d, steps %d), %s"
                     % (row["accelerators"], row["required_files"], row["dominant"], row["files_by_memory"],
                        row["files_by_steps"], _gib(row["total_disk_bytes"])))
    lines.append("Next: run_training sizes from the clients' real MemTotal; to generate and run this size set "
                 "mlperf_params: {dataset.num_files_train: %d} (runs with fewer files than a datasize leaf records "
                 "are INVALID, DATASIZE-UNDERRUN)" % ds["required_files"])
    return lines


# ------------------------------------------------------------------------------------------- checkpointing

def _checkpoint_pair_problems(edition, model, accelerator, division, errors):
    if not edition.has_benchmark("checkpointing"):
        errors.append(problem("mlperf_edition", "edition %s has no checkpointing benchmark" % edition.name,
                              "set mlperf_edition to an edition that has it"))
        return
    models = sorted((edition.section("checkpointing").get("models") or {}).keys())
    if model not in models:
        errors.append(problem("mlperf_model", "'%s' is not a checkpointing model of edition %s; that edition has %s"
                              % (model, edition.name, ", ".join(models)), "set mlperf_model to one of them"))
    if division not in edition.divisions:
        errors.append(problem("mlperf_division", "mlperf_division is '%s'; edition %s has %s"
                              % (division, edition.name, ", ".join(edition.divisions)),
                              "set mlperf_division to one of them"))
        return
    memory = edition.section("checkpointing").get("accelerator_memory_gb") or {}
    allowed = edition.by_division("checkpointing", "accelerators", division)
    if memory and accelerator not in (None, "") and (accelerator not in memory or accelerator not in allowed):
        errors.append(problem("mlperf_accelerator", "accelerator '%s' cannot be simulated for checkpointing in the %s "
                              "division of edition %s; allowed are %s"
                              % (accelerator, division, edition.name, ", ".join(allowed)),
                              "set mlperf_accelerator to one of them"))


def _checkpoint_answer(answer, edition):
    warnings = answer["warnings"]
    model, hosts = answer["model"], answer["num_client_hosts"]
    np = answer["cluster_accelerators"]
    section = edition.section("checkpointing")
    spec = edition.checkpoint_model(model)
    count = _checkpointing_plan._process_count_error(model, spec, np, hosts, answer["accelerators_per_host"],
                                                     answer["division"])
    if count:
        warnings.append("%s; to size a run the division accepts: %s" % (count["message"], count["fix"]))
    size = _datasize.checkpoint_datasize(model, np)
    phases = int(section.get("checkpoints_per_phase") or _checkpointing_plan.CHECKPOINTS_PER_PHASE)
    size.update(checkpoint_size_gb=spec.get("checkpoint_size_gb"), writes=phases, reads=phases,
                written_gb=phases * size["total_gb"], read_gb=phases * size["total_gb"],
                per_host_checkpoint_gb=size["total_gb"] / hosts, per_host_memory_gib=answer["client_memory_gb"])
    memory = (section.get("accelerator_memory_gb") or {}).get(answer["accelerator"])
    if memory:
        size.update(accelerator_memory_gb=memory, aggregate_accelerator_memory_gb=np * memory)
        if np * memory < (spec.get("checkpoint_size_gb") or 0):
            warnings.append("%d x %s (%d GB each) = %d GB of accelerator memory is less than the %s GB checkpoint: "
                            "the verifier calls such a run INVALID (rule 4.3.4)"
                            % (np, answer["accelerator"], memory, np * memory, spec.get("checkpoint_size_gb")))
    if size["per_host_checkpoint_gb"] < 3 * answer["client_memory_gb"]:
        warnings.append("each host writes %.1f GB per checkpoint but has %s GiB of memory: below 3x memory, reads "
                        "can be served from the page cache (rule 4.3.1, a warning); run the write and read phases "
                        "apart with the cache dropped between them"
                        % (size["per_host_checkpoint_gb"], _shown_number(answer["client_memory_gb"])))
    answer.update(benchmark="checkpointing", num_processes=np, checkpoint=size)
    answer["lines"] = _checkpoint_lines(answer)


def _gb(value):
    return "{:,.2f} GB".format(value)


def _checkpoint_lines(answer):
    size = answer["checkpoint"]
    per_rank = size["per_rank_gb"]
    ranks = ("every rank %s" % _gb(per_rank[0]) if len(set(per_rank)) == 1 else
             "rank 0 %s, every other rank %s" % (_gb(per_rank[0]), _gb(per_rank[1])))
    lines = [
        "%s checkpointing on %s, edition %s, %s division: %d host(s) x %d = %d processes (ZeRO stage %d)"
        % (answer["model"], answer["accelerator"], answer["edition"], answer["division"],
           answer["num_client_hosts"], answer["accelerators_per_host"], answer["num_processes"], size["zero_level"]),
        "Per checkpoint: %s in total, %s per host; %s" % (_gb(size["total_gb"]), _gb(size["per_host_checkpoint_gb"]),
                                                         ranks),
        "Totals: %d writes = %s written, %d reads = %s read" % (size["writes"], _gb(size["written_gb"]),
                                                                 size["reads"], _gb(size["read_gb"])),
        "Numbers used: model %s GB + optimizer %s GB per full checkpoint; edition %s checkpoint size %s GB%s"
        % (size["model_gb"], size["optimizer_gb"], answer["edition"], size["checkpoint_size_gb"],
           "; %s memory %d GB x %d = %d GB" % (answer["accelerator"], size["accelerator_memory_gb"],
                                               answer["num_processes"], size["aggregate_accelerator_memory_gb"])
           if size.get("accelerator_memory_gb") else ""),
    ]
    return lines
