# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Training per-run checks (spec 3.2, 3.3, 3.5, 3.6)."""
from __future__ import annotations

import difflib

from . import run_check
from ..datasize import GIB, required_training_files
from ..edition import workload_name
from ..util import get_path, same_value, to_bool, to_int, to_number

T = ("training",)


def _workload(ctx):
    run = ctx.run
    return ctx.edition.training_workload(run.model, run.accelerator)


def _classify_override(ctx, key):
    """'tool', 'closed', 'open' or None (disallowed) for one dotted override key (the planner's classes too)."""
    return ctx.edition.classify_override(key)


@run_check("3.0-MODEL", "model and accelerator are allowed in the division", benchmarks=T, commands=None)
def check_training_model(ctx):
    run = ctx.run
    ed = ctx.edition
    every = ed.training_models()
    allowed = ed.training_models(ctx.division)
    issues = []
    if run.model not in every:
        return ctx.invalid("training model %r is not defined in edition %s (known: %s)"
                           % (run.model, ctx.edition.name, ", ".join(every)),
                           parameter="model", expected=every, actual=run.model)
    if run.model not in allowed:
        issues.append(ctx.invalid("model %s is not allowed in the %s division of edition %s (allowed: %s)"
                                  % (run.model, ctx.division, ctx.edition.name, ", ".join(allowed)),
                                  parameter="model", expected=allowed, actual=run.model))
    if run.command in ("run", "run_benchmark", "datasize"):
        accels = ed.training_accelerators(ctx.division)
        if not run.accelerator:
            issues.append(ctx.invalid("the run records no accelerator type; it is needed to pick the reference "
                                      "workload (set --accelerator-type / accelerator in the metadata)",
                                      parameter="accelerator", expected=accels))
        elif run.accelerator not in accels:
            issues.append(ctx.invalid("accelerator %s is not allowed in the %s division (allowed: %s)"
                                      % (run.accelerator, ctx.division, ", ".join(accels)),
                                      parameter="accelerator", expected=accels, actual=run.accelerator))
        elif ed.training_workload(run.model, run.accelerator) is None:
            workloads = sorted(workload_name(m, a) for m, by_accel in ed.training_pairs().items() for a in by_accel)
            issues.append(ctx.invalid("no reference workload %s in edition %s (available: %s)"
                                      % (workload_name(run.model, run.accelerator), ed.name, ", ".join(workloads)),
                                      parameter="accelerator", actual=run.accelerator))
        elif not issues and ctx.division in ed.divisions \
                and ctx.division not in ed.pair_divisions(run.model, run.accelerator):
            pair_divisions = ed.pair_divisions(run.model, run.accelerator)
            issues.append(ctx.invalid("%s on %s is not allowed in the %s division of edition %s (allowed: %s)"
                                      % (run.model, run.accelerator, ctx.division, ed.name, ", ".join(pair_divisions)),
                                      parameter="accelerator", expected=pair_divisions, actual=run.accelerator))
    if not issues:
        issues.append(ctx.ok("model %s / accelerator %s allowed" % (run.model, run.accelerator or "-"),
                             parameter="model", actual=run.model))
    return issues


@run_check("3.1.1", "dataset block and num_files_train are recorded", benchmarks=T,
           commands=("run", "run_benchmark", "datagen"))
def check_dataset_recorded(ctx):
    run = ctx.run
    dataset = run.param("dataset")
    if not isinstance(dataset, dict):
        return ctx.invalid("the run's parameters have no dataset block; run the datasize step and pass "
                           "dataset.num_files_train", parameter="dataset")
    if to_int(dataset.get("num_files_train")) is None:
        return ctx.invalid("dataset.num_files_train is missing or not an integer",
                           parameter="dataset.num_files_train", actual=dataset.get("num_files_train"))
    return ctx.ok("dataset.num_files_train recorded", parameter="dataset.num_files_train",
                  actual=to_int(dataset.get("num_files_train")))


def _total_memory_bytes(run):
    """Client RAM: the DLIO summary's host_memory_GB summed (quirk 12.12), else the host facts."""
    hm = get_path(run.summary, "host_memory_GB")
    if isinstance(hm, list) and hm and all(isinstance(v, (int, float)) for v in hm):
        return sum(hm) * GIB, "summary.host_memory_GB (sum)"
    total = to_number(get_path(run.system_info, "total_memory_bytes"))
    if total:
        return total, "system_info.total_memory_bytes"
    gb = to_number(run.args.get("client_host_memory_in_gb"))
    hosts = to_int(run.args.get("num_client_hosts")) or (len(run.args.get("hosts") or []) or None)
    if gb and hosts:
        return gb * hosts * GIB, "args.client_host_memory_in_gb x num_client_hosts"
    return None, None


@run_check("3.1.2", "num_files_train meets the dataset-size rule", benchmarks=T, commands=("run", "run_benchmark"))
def check_dataset_size(ctx):
    run = ctx.run
    ed = ctx.edition
    files = to_int(run.param("dataset.num_files_train"))
    if files is None:
        return None  # reported by 3.1.1
    wl = _workload(ctx) or {}
    # Record length and batch size are fixed by the reference workload (3.6.3 reports changes);
    # samples per file may change in OPEN, so the run's own value counts.
    record = wl.get("record_length_bytes") or to_number(run.param("dataset.record_length_bytes"))
    batch = wl.get("batch_size") or to_int(run.param("reader.batch_size"))
    spf = to_int(run.param("dataset.num_samples_per_file")) or wl.get("num_samples_per_file")
    procs = run.num_processes
    if not record or record <= 0:
        return ctx.invalid("dataset.record_length_bytes is missing or zero; the dataset size cannot be checked",
                           parameter="dataset.record_length_bytes", actual=record)
    if not spf or not batch or not procs:
        return ctx.invalid("cannot compute the dataset-size minimum: need num_samples_per_file, batch_size and "
                           "the number of processes", parameter="dataset.num_files_train",
                           actual={"num_samples_per_file": spf, "batch_size": batch, "num_processes": procs})
    memory, source = _total_memory_bytes(run)
    if memory is None:
        return ctx.warn("client memory is not recorded (no summary.host_memory_GB, system_info or args); only the "
                        "%d-step floor was checked" % ed.steps_per_epoch(), parameter="dataset.num_files_train")
    calc = required_training_files(memory, procs, record, spf, batch, edition=ed.name)
    if files < calc["required_files"]:
        return ctx.invalid("dataset.num_files_train=%d is below the minimum %d (%s dominates: %d files for %dx "
                           "client RAM of %.1f GiB from %s, %d files for %d steps x %d accelerators x batch %d); "
                           "regenerate the dataset with at least %d files"
                           % (files, calc["required_files"], calc["dominant"], calc["files_by_memory"],
                              ed.memory_multiplier(), memory / GIB, source, calc["files_by_steps"],
                              ed.steps_per_epoch(), procs, batch, calc["required_files"]),
                           parameter="dataset.num_files_train", expected=">= %d" % calc["required_files"],
                           actual=files)
    return ctx.ok("num_files_train %d >= required %d (%s)" % (files, calc["required_files"], calc["dominant"]),
                  parameter="dataset.num_files_train", expected=">= %d" % calc["required_files"], actual=files)


@run_check("3.6.2", "parameter overrides are allowed for the division", benchmarks=T, commands=None)
def check_training_overrides(ctx):
    run = ctx.run
    issues = []
    ovr = ctx.edition.override_classes()
    known = ovr["closed"] + ovr["open"] + ovr["tool_injected"]
    for key in sorted(run.overrides or {}):
        if str(key).startswith(tuple(ovr["tool_prefixes"])):
            continue  # workflow.* flags are chosen per command and checked on their own
        if run.command == "datasize" and key in ("dataset.num_files_train", "dataset.num_subfolders_train",
                                                 "dataset.total_disk_bytes"):
            continue  # datasize records its own results as overrides
        kind = _classify_override(ctx, key)
        value = run.overrides[key]
        if kind == "tool":
            issues.append(ctx.ok("tool-injected parameter %s" % key, parameter=key, actual=value))
        elif kind == "closed":
            issues.append(ctx.ok("closed parameter override allowed: %s" % key, parameter=key, actual=value))
        elif kind == "open":
            issues.append(ctx.open("parameter %s may only be changed in the OPEN division" % key,
                                   parameter=key, actual=value))
        else:
            hint = difflib.get_close_matches(str(key), known, n=1)
            issues.append(ctx.invalid("disallowed parameter override %s%s; remove it (allowed in CLOSED: %s)"
                                      % (key, " (did you mean %s?)" % hint[0] if hint else "",
                                         ", ".join(ovr.get("closed") or [])),
                                      parameter=key, actual=value))
    return issues


@run_check("3.6.3", "workload values equal the reference workload", benchmarks=T,
           commands=("run", "run_benchmark"))
def check_training_reference_values(ctx):
    """Required values (epochs, batch size, record length, AU ...) are enforced by comparison."""
    run = ctx.run
    wl = _workload(ctx)
    if not wl:
        return None  # reported by the model check
    refkeys = ctx.section("training").get("reference_keys") or {}
    issues = []
    for dotted, wl_key in refkeys.items():
        if wl_key not in wl:
            continue
        actual = run.param(dotted)
        if actual is None:
            if dotted in ("framework", "reader.data_loader", "dataset.format"):
                continue  # templates may leave these implicit
            issues.append(ctx.invalid("parameter %s is missing; the reference workload sets %s"
                                      % (dotted, wl[wl_key]), parameter=dotted, expected=wl[wl_key]))
            continue
        if same_value(actual, wl[wl_key]):
            continue
        kind = _classify_override(ctx, dotted)
        if kind == "open":
            issues.append(ctx.open("%s differs from the reference workload: OPEN division only" % dotted,
                                   parameter=dotted, expected=wl[wl_key], actual=actual))
        else:
            issues.append(ctx.invalid("%s differs from the reference %s_%s workload; this value may not be "
                                      "changed" % (dotted, run.model, run.accelerator),
                                      parameter=dotted, expected=wl[wl_key], actual=actual))
    if not issues:
        issues.append(ctx.ok("reference workload values kept (%s_%s)" % (run.model, run.accelerator)))
    return issues


@run_check("3.6.2-ODIRECT", "reader.odirect only for models that support it", benchmarks=T, commands=None)
def check_odirect(ctx):
    run = ctx.run
    value = run.param("reader.odirect")
    if value is None or not to_bool(value):
        return None
    allowed = ctx.section("training").get("odirect_models") or []
    if run.model not in allowed:
        return ctx.invalid("reader.odirect is only allowed for %s, not %s" % (", ".join(allowed), run.model),
                           parameter="reader.odirect", expected=False, actual=value)
    return ctx.ok("reader.odirect allowed for %s" % run.model, parameter="reader.odirect", actual=value)


@run_check("3.0-UNET3D-CKPT", "unet3d run_benchmark has workflow.checkpoint", benchmarks=T,
           commands=("run_benchmark",))
def check_unet3d_checkpoint(ctx):
    # Only the v2.0 post-run label is "run_benchmark"; v3.x labels runs "run" (quirk 12.2).
    run = ctx.run
    if run.model != "unet3d":
        return None
    flag = to_bool(run.param("workflow.checkpoint"))
    if flag:
        return ctx.ok("unet3d runs with workflow.checkpoint = True", parameter="workflow.checkpoint", actual=True)
    return ctx.invalid("unet3d training must run with workflow.checkpoint = True",
                       parameter="workflow.checkpoint", expected=True, actual=run.param("workflow.checkpoint"))


@run_check("RUN-SUMMARY", "the engine summary is present", benchmarks=("training", "checkpointing"),
           commands=("run", "run_benchmark"), planned=False)
def check_summary_present(ctx):
    run = ctx.run
    if isinstance(run.summary, dict):
        return ctx.ok("summary %s loaded" % run.summary_file, parameter="summary.json")
    if any(i.parameter == (run.summary_file or "summary.json") and i.validation == "INVALID"
           for i in run.load_issues):
        return None  # the loader already said why it is unreadable
    return ctx.invalid("summary.json is missing: the run produced no results (the engine failed or the file "
                       "was not collected)", parameter="summary.json")


@run_check("RUN-PROCS", "summary agrees with the recorded process count", benchmarks=("training", "checkpointing"),
           commands=("run", "run_benchmark"), planned=False)
def check_summary_processes(ctx):
    run = ctx.run
    if not isinstance(run.summary, dict):
        return None
    recorded = to_int(run.summary.get("num_accelerators"))
    if recorded is None or run.num_processes is None:
        return None
    if recorded != run.num_processes:
        return ctx.invalid("summary.json reports %d ranks but the metadata records num_processes=%d; the summary "
                           "belongs to another run" % (recorded, run.num_processes),
                           parameter="num_processes", expected=run.num_processes, actual=recorded)
    files = to_int(run.summary.get("num_files_train"))
    meta_files = to_int(run.param("dataset.num_files_train"))
    if run.benchmark == "training" and files is not None and meta_files is not None and files != meta_files:
        return ctx.invalid("summary.json trained on %d files but the metadata records num_files_train=%d"
                           % (files, meta_files), parameter="dataset.num_files_train", expected=meta_files,
                           actual=files)
    return ctx.ok("summary and metadata agree on %d processes" % recorded, parameter="num_processes",
                  actual=recorded)


@run_check("3.3.2", "accelerator utilization meets the expectation", benchmarks=T,
           commands=("run", "run_benchmark"), planned=False)
def check_au(ctx):
    run = ctx.run
    if not isinstance(run.summary, dict):
        return None
    metric = run.metric
    meet = metric.get("train_au_meet_expectation")
    mean_au = to_number(metric.get("train_au_mean_percentage"))
    threshold = ctx.edition.au_threshold(run.model)
    issues = []
    if meet is None and mean_au is None:
        return ctx.invalid("summary.json has no AU metrics (train_au_meet_expectation, train_au_mean_percentage)",
                           parameter="metric.train_au_meet_expectation")
    if meet is not None and meet != "success":
        issues.append(ctx.invalid("the engine reports train_au_meet_expectation=%r: the storage did not keep the "
                                  "accelerators busy enough" % meet, parameter="metric.train_au_meet_expectation",
                                  expected="success", actual=meet))
    if threshold is not None and mean_au is not None and mean_au < threshold * 100.0:
        issues.append(ctx.invalid("mean AU %.2f%% is below the %s minimum of %.0f%%" % (mean_au, run.model,
                                                                                       threshold * 100.0),
                                  parameter="metric.train_au_mean_percentage", expected=">= %.0f" % (threshold * 100),
                                  actual=round(mean_au, 4)))
    if not issues:
        issues.append(ctx.ok("AU %.2f%% meets the expectation" % (mean_au or 0.0),
                             parameter="metric.train_au_mean_percentage", actual=mean_au))
    return issues


@run_check("3.3.8", "per-epoch metric lists are not empty", benchmarks=T, commands=("run", "run_benchmark"),
           planned=False)
def check_epoch_lists(ctx):
    run = ctx.run
    if not isinstance(run.summary, dict):
        return None
    issues = []
    for key in ("train_au_percentage", "train_throughput_samples_per_second"):
        value = run.metric.get(key)
        if not isinstance(value, list) or not value:
            issues.append(ctx.invalid("summary metric %s is empty or missing: the run measured no epoch" % key,
                                      parameter="metric.%s" % key, actual=value))
    epochs = to_int(run.param("train.epochs"))
    au = run.metric.get("train_au_percentage")
    if epochs and isinstance(au, list) and au and len(au) != epochs:
        issues.append(ctx.invalid("summary has %d epoch values but the run was configured for %d epochs"
                                  % (len(au), epochs), parameter="train.epochs", expected=epochs, actual=len(au)))
    return issues


@run_check("3.3.3", "single host runs at least 4 simulated accelerators", benchmarks=T,
           commands=("run", "run_benchmark"))
def check_single_host_accelerators(ctx):
    run = ctx.run
    minimum = ctx.section("training").get("min_accelerators_single_host") or 0
    hosts = to_int(get_path(run.summary, "num_hosts")) or to_int(get_path(run.system_info, "num_hosts"))
    if hosts is None:
        hosts = len(set(run.args.get("hosts") or [])) or None
    if hosts == 1 and run.num_processes is not None and run.num_processes < minimum:
        return ctx.warn("single-host run with %d simulated accelerators (fewer than %d); advisory"
                        % (run.num_processes, minimum), parameter="num_processes",
                        expected=">= %d" % minimum, actual=run.num_processes)
    return None


@run_check("3.3.4", "summary host count matches the requested hosts", benchmarks=T,
           commands=("run", "run_benchmark"), planned=False)
def check_single_host_client_limit(ctx):
    run = ctx.run
    hosts = run.args.get("hosts") or []
    if not isinstance(hosts, list):
        return None
    distinct = sorted(set(str(h).split(":")[0] for h in hosts))
    summary_hosts = to_int(get_path(run.summary, "num_hosts"))
    if summary_hosts == 1 and len(distinct) > 1:
        return ctx.invalid("the engine ran on one host but %d hosts were requested (%s); the other clients did "
                           "no work" % (len(distinct), ", ".join(distinct)), parameter="num_hosts",
                           expected=len(distinct), actual=summary_hosts)
    return None


@run_check("3.3.6", "identical accelerators per node", benchmarks=T, commands=("run", "run_benchmark"))
def check_accelerators_per_node(ctx):
    run = ctx.run
    hosts = to_int(get_path(run.summary, "num_hosts")) or to_int(get_path(run.system_info, "num_hosts"))
    procs = to_int(get_path(run.summary, "num_accelerators")) or run.num_processes
    if not hosts or hosts <= 1 or not procs:
        return None
    if procs % hosts:
        return ctx.invalid("%d accelerators do not divide evenly over %d hosts; every node must simulate the "
                           "same number" % (procs, hosts), parameter="num_processes",
                           expected="multiple of %d" % hosts, actual=procs)
    return ctx.ok("%d accelerators per host" % (procs // hosts), parameter="num_processes", actual=procs)


def _path_args_check(ctx, data_key, label):
    run = ctx.run
    data_dir = run.args.get(data_key)
    results_dir = run.args.get("results_dir")
    if not data_dir or not results_dir:
        missing = [n for n, v in ((data_key, data_dir), ("results_dir", results_dir)) if not v]
        return ctx.invalid("args.%s not recorded; the %s and results directories must both be given"
                           % (" and args.".join(missing), label), parameter="args.%s" % missing[0])
    if str(data_dir).rstrip("/") == str(results_dir).rstrip("/"):
        return ctx.invalid("the %s directory and the results directory are the same (%s); use separate "
                           "locations" % (label, data_dir), parameter="args.%s" % data_key,
                           expected="!= %s" % results_dir, actual=data_dir)
    return ctx.ok("%s and results directories differ" % label, parameter="args.%s" % data_key)


@run_check("3.4.1", "data and results directories are given and differ", benchmarks=T,
           commands=("run", "run_benchmark"))
def check_training_path_args(ctx):
    return _path_args_check(ctx, "data_dir", "data")


def fs_separation_check(ctx):
    absent = ctx.edition.not_required(ctx, "fs_separation", parameter="fs_separation.json")
    if absent is not None:
        return absent
    run = ctx.run
    if run.data_access_protocol == "object":
        return ctx.ok("object storage: filesystem separation does not apply", parameter="fs_separation.json")
    fs = run.fs_separation
    if fs is None:
        return ctx.invalid("fs_separation.json is missing: nothing shows the data and results directories are on "
                           "different filesystems", parameter="fs_separation.json", extra={"token": "FS-MISSING"})
    same = to_bool(fs.get("same_filesystem")) if isinstance(fs, dict) else None
    if same is None:
        return ctx.invalid("fs_separation.json has no same_filesystem verdict", parameter="fs_separation.json")
    if same:
        return ctx.invalid("the data/checkpoint path and the results path are on the same filesystem (%s vs %s); "
                           "results must not share the storage under test"
                           % (fs.get("data_or_chkpt_path"), fs.get("results_path")),
                           parameter="fs_separation.same_filesystem", expected=False, actual=True)
    return ctx.ok("data and results on different filesystems", parameter="fs_separation.same_filesystem",
                  actual=False)


@run_check("3.4.2", "data and results are on different filesystems", benchmarks=T,
           commands=("run", "run_benchmark"), planned=False)
def check_training_fs_separation(ctx):
    return fs_separation_check(ctx)


@run_check("3.3.1-DATASIZE", "datasize leaf records its inputs and results", benchmarks=T, commands=("datasize",),
           planned=False)
def check_datasize_leaf(ctx):
    absent = ctx.edition.not_required(ctx, "datasize_leaf", parameter="datasize")
    if absent is not None:
        return absent
    run = ctx.run
    issues = []
    for key in ("dataset.num_files_train", "dataset.num_subfolders_train", "dataset.total_disk_bytes"):
        if run.param(key) is None:
            issues.append(ctx.invalid("DATASIZE-MALFORMED: datasize metadata lacks parameters.%s" % key,
                                      parameter=key, rule_id="3.3.1"))
    for key in ("model", "accelerator_type", "max_accelerators", "client_host_memory_in_gb", "data_dir"):
        if run.args.get(key) in (None, ""):
            issues.append(ctx.invalid("DATASIZE-MALFORMED: datasize metadata lacks args.%s" % key,
                                      parameter="args.%s" % key, rule_id="3.3.1"))
    if not issues:
        issues.append(ctx.ok("datasize leaf complete", rule_id="3.3.1"))
    return issues
