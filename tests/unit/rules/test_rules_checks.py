# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One passing and one failing case per check, on small synthetic runs built in memory."""
import copy
import datetime as dt

import pytest

from ansible_collections.mlperf.storage.plugins.plugin_utils.rules.checks import Ctx, all_checks
from ansible_collections.mlperf.storage.plugins.plugin_utils.rules.edition import load_edition
from ansible_collections.mlperf.storage.plugins.plugin_utils.rules.engine import Group, run_checks
from ansible_collections.mlperf.storage.plugins.plugin_utils.rules.issues import verdict_of
from ansible_collections.mlperf.storage.plugins.plugin_utils.rules.loader import run_from_metadata

RUN_SPECS, GROUP_SPECS = all_checks()
EDITION = load_edition("3.0")
GIB = 1024 ** 3


# ---------------------------------------------------------------------------------------------
# synthetic runs: unet3d on 8 b200 on one 64 GiB host needs max(2343 by memory, 28000 by steps)
# ---------------------------------------------------------------------------------------------
def training_meta():
    return {
        "benchmark_type": "training", "model": "unet3d", "command": "run", "run_datetime": "20260101_100000",
        "num_processes": 8, "accelerator": "b200",
        "parameters": {
            "model": {"name": "unet3d"}, "framework": "pytorch",
            "workflow": {"generate_data": False, "train": True, "checkpoint": False},
            "dataset": {"data_folder": "/data/unet3d", "format": "npz", "num_files_train": "28000",
                        "num_samples_per_file": 1, "record_length_bytes": 146600628},
            "reader": {"data_loader": "pytorch", "batch_size": 7, "read_threads": "4"},
            "train": {"epochs": 5, "computation_time": 0.162}, "metric": {"au": 0.9}},
        "override_parameters": {"dataset.num_files_train": "28000", "reader.read_threads": "4",
                                "dataset.data_folder": "/data/unet3d"},
        "system_info": {"total_memory_bytes": 64 * GIB, "num_hosts": 1},
        "args": {"mode": "closed", "hosts": ["h1"], "data_dir": "/data", "results_dir": "/results",
                 "accelerator_type": "b200", "client_host_memory_in_gb": 64, "num_client_hosts": 1},
    }


def training_summary(start="2026-01-01T10:00:05", minutes=10):
    begin = dt.datetime.fromisoformat(start)
    return {"start": start, "end": (begin + dt.timedelta(minutes=minutes)).isoformat(),
            "num_accelerators": 8, "num_hosts": 1, "host_memory_GB": [64.0], "num_files_train": 28000,
            "metric": {"train_au_percentage": [95.0] * 5, "train_au_mean_percentage": 95.0,
                       "train_au_meet_expectation": "success",
                       "train_throughput_samples_per_second": [300.0] * 5,
                       "train_io_mean_MB_per_second": 40000.0}}


def checkpoint_meta():
    return {
        "benchmark_type": "checkpointing", "model": "llama3-8b", "command": "run", "run_datetime": "20260101_120000",
        "num_processes": 8, "accelerator": "b200",
        "parameters": {
            "model": {"name": "llama_8b", "type": "transformer", "num_layers": 32, "model_datatype": "fp16",
                      "optimizer_datatype": "fp32", "parallelism": {"pipeline": 1, "tensor": 1, "zero_stage": 3},
                      "transformer": {"vocab_size": 128256, "hidden_size": 4096, "ffn_hidden_size": 14336,
                                      "num_attention_heads": 32, "num_kv_heads": 8}},
            "framework": "pytorch", "workflow": {"generate_data": False, "train": False, "checkpoint": True},
            "checkpoint": {"checkpoint_folder": "/ckpt/llama3-8b", "time_between_checkpoints": 5,
                           "num_checkpoints_write": 10, "num_checkpoints_read": 10, "fsync": True}},
        "override_parameters": {"checkpoint.checkpoint_folder": "/ckpt/llama3-8b"},
        "system_info": {"total_memory_bytes": 32 * GIB, "num_hosts": 1},
        "invocation_start_time": "2026-01-01T12:00:00",
        "args": {"mode": "closed", "hosts": ["h1"], "checkpoint_folder": "/ckpt", "results_dir": "/results",
                 "num_checkpoints_write": 10, "num_checkpoints_read": 10},
    }


def checkpoint_summary():
    return {"start": "2026-01-01T12:00:05", "end": "2026-01-01T12:10:00", "num_accelerators": 8, "num_hosts": 1,
            "host_memory_GB": [32.0],
            "metric": {"save_checkpoint_io_mean_GB_per_second": 5.0, "save_checkpoint_duration_mean_seconds": 20.0,
                       "load_checkpoint_io_mean_GB_per_second": 9.0, "load_checkpoint_duration_mean_seconds": 11.0,
                       "checkpoint_size_GB": 104.7}}


def vdb_meta():
    return {"benchmark_type": "vector_database", "model": "milvus_DISKANN", "command": "run",
            "run_datetime": "20260101_130000", "num_processes": None, "parameters": {}, "override_parameters": {},
            "vdb_engine": "milvus", "vdb_index": "DISKANN", "benchmark_mode": "timed", "vector_dim": 1536,
            "args": {"mode": "closed", "runtime": 300, "storage_root": "/vdb", "results_dir": "/results",
                     "benchmark_mode": "timed"}}


def vdb_summary():
    return {"throughput_qps": 140.0, "mean_latency_ms": 7.0, "p95_latency_ms": 8.0, "p99_latency_ms": 9.0,
            "p999_latency_ms": 20.0, "recall": {"mean_recall": 0.9}}


def kv_meta():
    return {"benchmark_type": "kv_cache", "model": "llama3.1-8b", "command": "run", "run_datetime": "20260101_140000",
            "num_processes": 1, "parameters": {"model": "llama3.1-8b"}, "override_parameters": {},
            "args": {"mode": "closed", "seed": 42, "trials": 3, "inter_option_delay": 90, "config": None,
                     "enable_autoscaling": True}}


def kv_summary():
    opt = {"rank_count": 1, "trial_count": 3, "partial_failure": False, "missing_files": [], "cpu_tier_ranks": [],
           "aggregated_read_bandwidth_gbps": 10.0}
    return {"total_ranks": 1, "options": {k: dict(opt) for k in ("1", "2", "3")}, "partial_failure": False,
            "trial_failures": {}}


BASES = {
    "training": (training_meta, training_summary),
    "checkpointing": (checkpoint_meta, checkpoint_summary),
    "vector_database": (vdb_meta, vdb_summary),
    "kv_cache": (kv_meta, kv_summary),
}


def build(benchmark, meta_fn=None, summary_fn=None, division="closed", files=None, fs_same=False, planned=False):
    meta_factory, summary_factory = BASES[benchmark]
    meta = meta_factory()
    if meta_fn:
        meta_fn(meta)
    run = run_from_metadata(meta, division=division)
    run.planned = planned
    run.rel_path = "%s/%s/%s" % (benchmark, meta["command"], meta["run_datetime"])
    run.layout = {}
    if not planned:
        summary = summary_factory()
        if summary_fn:
            summary_fn(summary)
        run.summary = summary
        run.summary_file = "summary.json"
        run.fs_separation = None if fs_same is None else {"same_filesystem": fs_same}
        run.files = files if files is not None else ["summary.json", "fs_separation.json", "result_verdict.json"]
        if benchmark == "vector_database":
            run.vdb_verdict = {"result": "valid", "valid": True, "flat_setup": {"ok": True, "coverage": 1.0}}
    return run


def check(name, run, division="closed", edition=EDITION):
    spec = [s for s in RUN_SPECS if s.name == name][0]
    if not spec.applies(run, run.planned, package_checks=True):
        return []
    issues, _ = run_checks([spec], Ctx(edition, division, planned=run.planned, run=run))
    return issues


def verdict(name, run, **kw):
    return verdict_of(check(name, run, **kw))


def setp(path, value):
    def apply(d):
        cur = d
        keys = path.split(".")
        for k in keys[:-1]:
            cur = cur.setdefault(k, {})
        cur[keys[-1]] = value
    return apply


def both(*fns):
    def apply(d):
        for fn in fns:
            fn(d)
    return apply


# (check, benchmark, mutation of metadata, mutation of summary, expected verdict of the failing case)
CASES = [
    ("check_training_model", "training", setp("model", "resnet50"), None, "INVALID"),
    ("check_dataset_recorded", "training", setp("parameters.dataset", None), None, "INVALID"),
    ("check_dataset_size", "training", both(setp("parameters.dataset.num_files_train", "27999"),
                                            setp("override_parameters.dataset.num_files_train", "27999")),
     lambda s: s.__setitem__("num_files_train", 27999), "INVALID"),
    ("check_training_overrides", "training", setp("override_parameters.reader.batch_size", "9"), None, "INVALID"),
    ("check_training_reference_values", "training", setp("parameters.train.computation_time", 0.1), None, "INVALID"),
    ("check_odirect", "training", both(setp("model", "retinanet"), setp("accelerator", "b200"),
                                       setp("parameters.reader.odirect", "True")), None, "INVALID"),
    ("check_unet3d_checkpoint", "training", setp("command", "run_benchmark"), None, "INVALID"),
    ("check_summary_present", "training", None, "DROP", "INVALID"),
    ("check_summary_processes", "training", None, lambda s: s.__setitem__("num_accelerators", 4), "INVALID"),
    ("check_au", "training", None, lambda s: s["metric"].__setitem__("train_au_meet_expectation", "fail"),
     "INVALID"),
    ("check_epoch_lists", "training", None, lambda s: s["metric"].__setitem__("train_au_percentage", []),
     "INVALID"),
    ("check_single_host_client_limit", "training", setp("args.hosts", ["h1", "h2"]), None, "INVALID"),
    ("check_accelerators_per_node", "training", setp("num_processes", 9),
     lambda s: (s.__setitem__("num_hosts", 2), s.__setitem__("num_accelerators", 9)), "INVALID"),
    ("check_training_path_args", "training", setp("args.results_dir", "/data"), None, "INVALID"),
    ("check_checkpoint_model", "checkpointing", setp("model", "llama2-7b"), None, "INVALID"),
    ("check_checkpoint_processes", "checkpointing", setp("num_processes", 12), None, "INVALID"),
    ("check_checkpoint_procs_per_host", "checkpointing", None,
     lambda s: s.__setitem__("num_hosts", 2), "INVALID"),
    ("check_checkpoint_accelerator_memory", "checkpointing", setp("accelerator", "tpu"), None, "INVALID"),
    ("check_checkpoint_subset", "checkpointing",
     both(setp("model", "llama3-70b"), setp("num_processes", 8), setp("args.checkpoint_subset", True)), None,
     "INVALID"),
    ("check_checkpoint_fsync", "checkpointing", setp("parameters.checkpoint.fsync", False), None, "INVALID"),
    ("check_checkpoint_parameters", "checkpointing", setp("parameters.checkpoint.time_between_checkpoints", 1),
     None, "OPEN"),
    ("check_checkpoint_metrics", "checkpointing", None,
     lambda s: s["metric"].pop("load_checkpoint_io_mean_GB_per_second"), "INVALID"),
    ("check_checkpoint_path_args", "checkpointing", setp("args.checkpoint_folder", None), None, "INVALID"),
    ("check_vdb_engine", "vector_database", setp("vdb_engine", "pgvector"), None, "OPEN"),
    ("check_vdb_index", "vector_database", setp("vdb_index", "IVF_FLAT"), None, "OPEN"),
    ("check_vdb_mode_runtime", "vector_database", setp("args.runtime", 10), None, "INVALID"),
    ("check_vdb_metrics", "vector_database", None, lambda s: s.__setitem__("recall", {"mean_recall": 0.0}),
     "INVALID"),
    ("check_vdb_path_args", "vector_database", setp("args.storage_root", "/results"), None, "INVALID"),
    ("check_kv_model", "kv_cache", setp("model", "gpt-9"), None, "INVALID"),
    ("check_kv_closed_sequence", "kv_cache", setp("args.trials", 1), None, "INVALID"),
    ("check_kv_summary", "kv_cache", None, lambda s: s["options"]["2"].__setitem__("trial_count", 2), "INVALID"),
    ("check_edition_benchmark", "kv_cache", None, None, "INVALID"),  # judged under 2.0 below
    ("check_division", "training", None, None, "INVALID"),  # division "final" below
    ("check_exit_status", "training", setp("exit_status", 1), None, "INVALID"),
    ("check_engine_generation", "training", setp("engine", {"name": "dlio", "generation": "pypi-2.0.0"}), None,
     "INVALID"),
]


def _failing_kwargs(name):
    if name == "check_edition_benchmark":
        return {"edition": load_edition("2.0")}
    if name == "check_division":
        return {"division": "final"}
    return {}


@pytest.mark.parametrize("name,benchmark,meta_fn,summary_fn,expected", CASES, ids=[c[0] for c in CASES])
def test_check_passes_on_the_base_run_and_fails_on_the_mutation(name, benchmark, meta_fn, summary_fn, expected):
    good = build(benchmark)
    assert verdict(name, good) == "CLOSED", check(name, good)
    if summary_fn == "DROP":
        broken = build(benchmark, meta_fn)
        broken.summary = None
    else:
        broken = build(benchmark, meta_fn, summary_fn)
    issues = check(name, broken, **_failing_kwargs(name))
    assert verdict_of(issues) == expected, issues
    assert all(i.check == name and i.rule_id for i in issues)


def test_every_registered_run_check_has_a_case_or_a_dedicated_test():
    covered = {c[0] for c in CASES} | {
        "check_single_host_accelerators", "check_training_fs_separation", "check_datasize_leaf",
        "check_checkpoint_data_ratio", "check_checkpoint_fs_separation", "check_vdb_preview",
        "check_vdb_ground_truth", "check_vdb_fs_separation", "check_layout_matches_metadata", "check_leaf_files",
        "check_kv_option_values", "check_vdb_index_params"}  # tests/unit/rules/test_rules_kv_options.py, test_rules_vdb_values.py
    assert {s.name for s in RUN_SPECS} <= covered


# --- warnings and relaxed findings -----------------------------------------------------------
def test_single_host_with_few_accelerators_is_a_warning():
    run = build("training")
    assert check("check_single_host_accelerators", run) == []
    few = build("training", setp("num_processes", 2), lambda s: s.__setitem__("num_accelerators", 2))
    issues = check("check_single_host_accelerators", few)
    assert [(i.validation, i.severity) for i in issues] == [("CLOSED", "warning")]


@pytest.mark.parametrize("name", ["check_training_fs_separation", "check_checkpoint_fs_separation",
                                  "check_vdb_fs_separation"])
def test_fs_separation_same_filesystem_is_invalid_missing_file_is_a_v3_0_warning(name):
    bench = {"check_training_fs_separation": "training", "check_checkpoint_fs_separation": "checkpointing",
             "check_vdb_fs_separation": "vector_database"}[name]
    assert verdict(name, build(bench)) == "CLOSED"
    assert verdict(name, build(bench, fs_same=True)) == "INVALID"
    missing = check(name, build(bench, fs_same=None))
    assert [(i.validation, i.severity) for i in missing] == [("CLOSED", "warning")]
    assert "warning under edition 3.0" in missing[0].message
    # object storage is exempt
    obj = build(bench, setp("args.data_access_protocol", "object"), fs_same=True)
    assert verdict(name, obj) == "CLOSED"


def test_datasize_leaf_fields():
    leaf = build("training", both(setp("command", "datasize"), setp("parameters.dataset.num_subfolders_train", 0),
                                  setp("parameters.dataset.total_disk_bytes", 1),
                                  setp("args.max_accelerators", 8), setp("args.model", "unet3d")))
    assert [i.severity for i in check("check_datasize_leaf", leaf)] == ["info"]
    broken = build("training", setp("command", "datasize"))
    issues = check("check_datasize_leaf", broken)
    assert {i.parameter for i in issues} >= {"dataset.num_subfolders_train", "args.max_accelerators"}
    assert all(i.severity == "warning" for i in issues)  # 3.3.1 was a warning in the v3.0 round


def test_checkpoint_data_ratio_warns_below_three_times_memory():
    assert check("check_checkpoint_data_ratio", build("checkpointing")) == []
    big = build("checkpointing", None, lambda s: s.__setitem__("host_memory_GB", [64.0]))
    assert [i.severity for i in check("check_checkpoint_data_ratio", big)] == ["warning"]


def test_vdb_preview_only_in_edition_2_0():
    assert check("check_vdb_preview", build("vector_database")) == []
    assert verdict("check_vdb_preview", build("vector_database"), edition=load_edition("2.0")) == "OPEN"


def test_vdb_ground_truth():
    assert verdict("check_vdb_ground_truth", build("vector_database")) == "CLOSED"
    run = build("vector_database")
    run.vdb_verdict["flat_setup"]["coverage"] = 0.5
    assert verdict("check_vdb_ground_truth", run) == "INVALID"
    missing = build("vector_database", files=["summary.json"])
    assert [i.severity for i in check("check_vdb_ground_truth", missing)] == ["warning"]


def test_layout_must_agree_with_metadata():
    run = build("training")
    run.layout = {"model": "unet3d", "command": "run", "run_datetime": "20260101_100000"}
    assert verdict("check_layout_matches_metadata", run) == "CLOSED"
    run.layout["model"] = "retinanet"
    assert verdict("check_layout_matches_metadata", run) == "INVALID"
    # a run made in open mode cannot be filed under closed/
    run.layout = {"division": "closed"}
    run.args["mode"] = "open"
    issues = check("check_layout_matches_metadata", run)
    assert [(i.parameter, i.expected, i.actual) for i in issues] == [("division", "closed", "open")]


def test_leaf_files():
    run = build("training", files=["training_run.stdout.log", "training_run.stderr.log", "0_output.json",
                                   "0_per_epoch_stats.json", "summary.json", "dlio.log", "dlio_config/config.yaml",
                                   "dlio_config/hydra.yaml", "dlio_config/overrides.yaml"])
    assert verdict("check_leaf_files", run) == "CLOSED"
    run.files.remove("dlio.log")
    issues = check("check_leaf_files", run)
    assert [i.parameter for i in issues] == ["^dlio\\.log$"]


def test_a_check_that_raises_becomes_an_invalid_issue_naming_it():
    spec = copy.copy([s for s in RUN_SPECS if s.name == "check_au"][0])

    def boom(ctx):
        raise KeyError("metric")
    spec.func = boom
    issues, outcomes = run_checks([spec], Ctx(EDITION, "closed", run=build("training")))
    assert issues[0].validation == "INVALID"
    assert issues[0].message.startswith("Check check_au failed with error: KeyError")
    assert outcomes[0]["verdict"] == "INVALID"


def test_training_accelerator_not_allowed_in_closed_but_in_whatif():
    run = build("training", setp("accelerator", "h100"))
    assert verdict("check_training_model", run) == "INVALID"
    what = build("training", both(setp("accelerator", "a100")), division="whatif")
    assert verdict("check_training_model", what, division="whatif") == "CLOSED"


# --- group (submission) checks -----------------------------------------------------------------
def _training_group(n=6, gap_minutes=11, datagen=True, datasize=True):
    runs = []
    start = dt.datetime(2026, 1, 1, 10, 0, 0)
    for idx in range(n):
        t = start + dt.timedelta(minutes=gap_minutes * idx)
        stamp = t.strftime("%Y%m%d_%H%M%S")
        run = build("training", setp("run_datetime", stamp),
                    lambda s, t=t: (s.__setitem__("start", (t + dt.timedelta(seconds=5)).isoformat()),
                                    s.__setitem__("end", (t + dt.timedelta(minutes=10)).isoformat())))
        run.verdict, run.result_issues = "CLOSED", []
        runs.append(run)
    if datagen:
        gen = build("training", both(setp("command", "datagen"), setp("run_datetime", "20260101_090000"),
                                     setp("parameters.dataset.num_files_train", "28000")))
        gen.verdict, gen.result_issues = "CLOSED", []
        runs.append(gen)
    if datasize:
        size = build("training", both(setp("command", "datasize"), setp("run_datetime", "20260101_085900"),
                                      setp("parameters.dataset.num_files_train", 28000)))
        size.verdict, size.result_issues = "CLOSED", []
        runs.append(size)
    return Group(("closed", "org", "sys", "training", "unet3d"), runs)


def group_verdict(name, group, edition=EDITION):
    spec = [s for s in GROUP_SPECS if s.name == name][0]
    issues, _ = run_checks([spec], Ctx(edition, group.division, group=group))
    return verdict_of(issues), issues


@pytest.mark.parametrize("name,broken", [
    ("check_training_run_count", lambda: _training_group(n=5)),
    ("check_training_gaps", lambda: _training_group(gap_minutes=25)),
    ("check_training_datagen_present", lambda: _training_group(datagen=False)),
    ("check_datagen_size", None),
    ("check_consistent_config", None),
    ("check_runs_verdicts", None),
])
def test_training_group_checks(name, broken):
    assert group_verdict(name, _training_group())[0] == "CLOSED"
    if broken is not None:
        group = broken()
    else:
        group = _training_group()
        if name == "check_datagen_size":
            gen = [r for r in group.runs if r.command == "datagen"][0]
            gen.parameters["dataset"]["num_files_train"] = "20000"
        elif name == "check_consistent_config":
            group.runs[2].num_processes = 16
        else:
            group.runs[3].verdict = "INVALID"
    assert group_verdict(name, group)[0] == "INVALID"


def test_training_run_count_rule_per_edition():
    five = _training_group(n=5)
    v2 = load_edition("2.0")
    assert group_verdict("check_training_run_count", five, edition=v2)[0] == "CLOSED"  # >= 5 in v2.0
    assert group_verdict("check_training_run_count", _training_group(n=7))[0] == "INVALID"  # exactly 6 in 3.0


def test_missing_datasize_phase_is_a_v3_0_warning():
    verdict_, issues = group_verdict("check_training_datasize_present", _training_group(datasize=False))
    assert verdict_ == "CLOSED" and issues[0].severity == "warning"


def test_datasize_underrun_is_reported():
    group = _training_group()
    size = [r for r in group.runs if r.command == "datasize"][0]
    size.parameters["dataset"]["num_files_train"] = 30000
    verdict_, issues = group_verdict("check_datasize_run_datagen", group)
    assert any("DATASIZE-UNDERRUN" in i.message for i in issues)


def test_division_placement():
    group = _training_group()
    assert group_verdict("check_division_placement", group)[0] == "CLOSED"
    group.runs[0].verdict = "OPEN"
    assert group_verdict("check_division_placement", group)[0] == "OPEN"


def _ckpt_group(pairs, read_start="2026-01-01T12:10:20"):
    runs = []
    for idx, (w, r) in enumerate(pairs):
        stamp = "20260101_12%02d00" % (idx * 10)
        run = build("checkpointing", both(setp("run_datetime", stamp),
                                          setp("parameters.checkpoint.num_checkpoints_write", w),
                                          setp("parameters.checkpoint.num_checkpoints_read", r),
                                          setp("invocation_start_time",
                                               read_start if idx else "2026-01-01T12:00:00")))
        run.verdict, run.result_issues = "CLOSED", []
        runs.append(run)
    return Group(("closed", "org", "sys", "checkpointing", "llama3-8b"), runs)


def test_checkpoint_structure():
    assert group_verdict("check_checkpoint_structure", _ckpt_group([(10, 10)]))[0] == "CLOSED"
    assert group_verdict("check_checkpoint_structure", _ckpt_group([(10, 0), (0, 10)]))[0] == "CLOSED"
    assert group_verdict("check_checkpoint_structure", _ckpt_group([(0, 10), (10, 0)]))[0] == "INVALID"
    assert group_verdict("check_checkpoint_structure", _ckpt_group([(10, 0)]))[0] == "INVALID"
    assert group_verdict("check_checkpoint_structure", _ckpt_group([(10, 0), (0, 5), (0, 5)]))[0] == "INVALID"
    skew, issues = group_verdict("check_checkpoint_structure", _ckpt_group([(10, 0), (0, 10)],
                                                                          read_start="2026-01-01T12:05:00"))
    assert skew == "CLOSED" and any("clocks disagree" in i.message for i in issues)


def test_vdb_group_checks():
    runs = []
    for idx in range(5):
        run = build("vector_database", setp("run_datetime", "20260101_13%02d00" % idx))
        run.verdict, run.result_issues = "CLOSED", []
        runs.append(run)
    gen = build("vector_database", both(setp("command", "datagen"), setp("dimension", 1536),
                                        setp("index_type", "DISKANN")))
    gen.verdict, gen.result_issues = "CLOSED", []
    group = Group(("closed", "org", "sys", "vector_database", "milvus_DISKANN"), runs + [gen])
    assert group_verdict("check_vdb_run_count", group)[0] == "CLOSED"
    assert group_verdict("check_vdb_datagen", group)[0] == "CLOSED"
    gen.metadata["dimension"] = 768
    assert group_verdict("check_vdb_datagen", group)[0] == "INVALID"
    group.runs = runs[:4] + [gen]
    assert group_verdict("check_vdb_run_count", group)[0] == "INVALID"


def test_kv_group_picks_the_latest_valid_run():
    first = build("kv_cache", setp("run_datetime", "20260101_140000"))
    second = build("kv_cache", setp("run_datetime", "20260102_140000"))
    first.verdict, second.verdict = "CLOSED", "INVALID"
    first.result_issues = second.result_issues = []
    group = Group(("closed", "org", "sys", "kv_cache", "llama3.1-8b"), [first, second])
    assert group.primary_run is first
    verdict_, issues = group_verdict("check_kv_run_count", group)
    assert verdict_ == "CLOSED" and issues[0].severity == "warning" and "20260101_140000" in issues[0].message
    empty = Group(("closed", "org", "sys", "kv_cache", "llama3.1-8b"), [])
    assert group_verdict("check_kv_run_count", empty)[0] == "INVALID"
