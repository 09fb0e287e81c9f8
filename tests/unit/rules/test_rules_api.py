# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Datasize arithmetic, editions, planned-run classification and a tiny run from our own tool."""
import json
import os

import pytest

from ansible_collections.mlperf.storage.plugins.plugin_utils.rules import (
    EditionError, Issue, classify_planned_run, load_edition, verify_run_dir, verify_tree)
from ansible_collections.mlperf.storage.plugins.plugin_utils.rules.datasize import GIB, required_training_files
from ansible_collections.mlperf.storage.plugins.plugin_utils.rules.edition import available_editions

from _rules_helpers import bad, rule_ids, submission


# --- datasize (rules.md 3.4 worked examples, floor variant) -------------------------------------
@pytest.mark.parametrize("memory_gib,accel,record,spf,batch,expected,dominant", [
    (256, 8, 146600628, 1, 7, 28000, "steps"),       # unet3d, 1 host x 256 GiB, 8 accelerators
    (256, 8, 322957, 1, 24, 4255642, "memory"),      # retinanet_b200
    (64, 16, 114660.07, 1251, 400, 2557, "steps"),   # resnet50_h100, 1 x 64 GiB, 16 accelerators
])
def test_datasize_worked_examples(memory_gib, accel, record, spf, batch, expected, dominant):
    calc = required_training_files(memory_gib * GIB, accel, record, spf, batch)
    assert calc["required_files"] == expected
    assert calc["dominant"] == dominant


def test_datasize_rounding_variants():
    floor = required_training_files(377 * GIB, 2, 146600628, 1, 7)["files_by_memory"]
    ceil = required_training_files(377 * GIB, 2, 146600628, 1, 7, rounding="ceil")["files_by_memory"]
    assert (floor, ceil) == (13806, 13807)  # NewFW's datasize leaf recorded 13806


def test_datasize_rejects_a_zero_record_length():
    with pytest.raises(ValueError, match="record_length_bytes must be > 0"):
        required_training_files(GIB, 1, 0, 1, 1)


# --- editions -------------------------------------------------------------------------------------
def test_editions_load_and_normalise():
    assert available_editions() == ["2.0", "3.0"]
    assert load_edition("v3.0") is load_edition("3.0") is load_edition(3)
    ed = load_edition("3.0")
    assert ed.by_division("training", "models", "closed") == ["unet3d", "retinanet"]
    assert ed.checkpoint_model("llama3-405b")["closed_processes"] == 512
    assert ed.section("checkpointing")["accelerator_memory_gb"]["mi355"] == 288
    assert load_edition("2.0").section("training")["runs_per_result"] == 5


def test_unknown_edition_names_the_known_ones():
    with pytest.raises(EditionError, match=r"unknown rules edition '4.2'.*known editions: 2.0, 3.0"):
        load_edition("4.2")


def test_issue_rejects_unknown_vocabulary():
    with pytest.raises(ValueError, match="unknown validation"):
        Issue("MAYBE", "x")
    assert str(Issue("open", "m", parameter="p", expected=1, actual=2, rule_id="R")) == \
        "[OPEN] [R] m (Parameter: p, Expected: 1, Actual: 2)"


# --- planned runs ----------------------------------------------------------------------------------
def planned_training(**over):
    meta = {
        "benchmark_type": "training", "model": "retinanet", "command": "run", "num_processes": 8,
        "accelerator": "b200",
        "parameters": {"framework": "pytorch",
                       "dataset": {"num_files_train": 4255642, "num_samples_per_file": 1, "format": "jpeg",
                                   "record_length_bytes": 322957},
                       "reader": {"batch_size": 24, "data_loader": "pytorch"},
                       "train": {"epochs": 8, "computation_time": 0.04755}, "metric": {"au": 0.85}},
        "override_parameters": {"dataset.num_files_train": "4255642"},
        "system_info": {"total_memory_bytes": 256 * GIB, "num_hosts": 1},
        "args": {"hosts": ["h1"], "data_dir": "/data", "results_dir": "/results"},
    }
    meta.update(over)
    return meta


def test_planned_run_classification():
    run = classify_planned_run(planned_training())
    assert run["verdict"] == "CLOSED", bad(run["issues"])
    assert run["metrics"] == {}
    ran = {c["check"] for c in run["checks"]}
    assert "check_dataset_size" in ran and "check_au" not in ran and "check_summary_present" not in ran


def test_planned_run_below_the_dataset_minimum_is_invalid():
    meta = planned_training()
    meta["parameters"]["dataset"]["num_files_train"] = 4255641
    run = classify_planned_run(meta)
    assert run["verdict"] == "INVALID" and rule_ids(run["issues"]) == ["3.1.2"]


def test_planned_open_override_and_division():
    meta = planned_training(override_parameters={"dataset.format": "png"})
    assert classify_planned_run(meta)["verdict"] == "OPEN"
    assert classify_planned_run(meta, division="open")["verdict"] == "OPEN"
    bad_meta = planned_training(override_parameters={"train.epochs": "2"})
    assert classify_planned_run(bad_meta)["verdict"] == "INVALID"


def test_planned_checkpoint_run():
    meta = {"benchmark_type": "checkpointing", "model": "llama3-70b", "command": "run", "num_processes": 64,
            "accelerator": "b200", "parameters": {"checkpoint": {"fsync": True, "num_checkpoints_write": 10,
                                                                 "num_checkpoints_read": 0}},
            "args": {"checkpoint_folder": "/ckpt", "results_dir": "/res", "hosts": ["a", "b", "c", "d"]},
            "system_info": {"num_hosts": 4}}
    run = classify_planned_run(meta)
    # the reference model block is missing from these parameters: OPEN, not CLOSED, with the keys named
    assert run["verdict"] == "OPEN"
    assert any(i["parameter"] == "model.num_layers" for i in run["issues"])
    meta["num_processes"] = 60
    assert classify_planned_run(meta)["verdict"] == "INVALID"


def test_planned_garbage_is_an_issue_not_a_traceback():
    run = classify_planned_run(["not", "a", "dict"])
    assert run["verdict"] == "INVALID" and rule_ids(run["issues"]) == ["LOAD-01"]
    run = classify_planned_run({"benchmark_type": "teleport"})
    assert run["verdict"] == "INVALID" and "LOAD-03" in rule_ids(run["issues"])


# --- a tiny non-submission run written by our own tool --------------------------------------------
def _write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2)


def tiny_tree(root, runs=2):
    """8 files of 1 MiB, 2 ranks, DLIO 2.0.0 from PyPI: the shape of a smoke run on one machine."""
    base = os.path.join(root, "closed", "lab", "results", "smoke", "training", "unet3d")
    for idx in range(runs):
        stamp = "20261123_1000%02d" % (idx * 20)
        leaf = os.path.join(base, "run", stamp)
        _write(os.path.join(leaf, "training_%s_metadata.json" % stamp), {
            "benchmark_type": "training", "model": "unet3d", "command": "run", "run_datetime": stamp,
            "num_processes": 2, "accelerator": "b200",
            "parameters": {"framework": "pytorch",
                           "workflow": {"generate_data": False, "train": True},
                           "dataset": {"num_files_train": 8, "num_samples_per_file": 1,
                                       "record_length": 1048576, "format": "npz"},
                           "reader": {"batch_size": 1, "read_threads": 1}, "train": {"epochs": 2}},
            "override_parameters": {"dataset.num_files_train": 8, "dataset.record_length": 1048576,
                                    "reader.batch_size": 1, "train.epochs": 2},
            "system_info": {"total_memory_bytes": 24 * GIB, "num_hosts": 1},
            "tool": {"name": "mlperf.storage", "version": "0.1.0"},
            "engine": {"name": "dlio", "version": "2.0.0", "generation": "pypi-2.0.0"},
            "args": {"hosts": ["localhost"], "data_dir": "/tmp/data", "results_dir": root, "mode": "closed"},
        })
        _write(os.path.join(leaf, "summary.json"), {
            "start": "2026-11-23T10:00:%02d" % (idx * 20 + 1), "end": "2026-11-23T10:00:%02d" % (idx * 20 + 12),
            "num_accelerators": 2, "num_hosts": 1, "host_memory_GB": [24.0], "num_files_train": 8, "epochs": 2,
            "metric": {"train_au_percentage": [12.0, 14.0], "train_au_mean_percentage": 13.0,
                       "train_au_meet_expectation": "fail", "train_throughput_samples_per_second": [50.0, 52.0],
                       "train_throughput_mean_samples_per_second": 51.0, "train_io_mean_MB_per_second": 51.0}})
        _write(os.path.join(leaf, "fs_separation.json"), {"same_filesystem": True,
                                                           "data_or_chkpt_path": "/tmp/data",
                                                           "results_path": root})
    return root


def test_tiny_pypi_run_is_invalid_rule_by_rule(tmp_path):
    root = tiny_tree(str(tmp_path))
    run = verify_run_dir(os.path.join(root, "closed/lab/results/smoke/training/unet3d/run/20261123_100000"))
    assert run["verdict"] == "INVALID"
    ids = set(rule_ids(run["issues"]))
    # engine generation, dataset size, changed workload values, AU, same filesystem
    assert {"ENGINE-01", "3.1.2", "3.6.2", "3.6.3", "3.3.2", "3.4.2"} <= ids
    size = [i for i in bad(run["issues"]) if i["rule_id"] == "3.1.2"][0]
    assert size["actual"] == 8 and size["expected"] == ">= 7000"  # 500 steps x 2 ranks x batch 7
    assert "dataset.record_length" in {i["parameter"] for i in bad(run["issues"]) if i["rule_id"] == "3.6.2"}


def test_tiny_tree_submission_is_short_of_runs(tmp_path):
    rep = verify_tree(tiny_tree(str(tmp_path))).to_dict()
    sub = submission(rep, "training")
    assert sub["verdict"] == "INVALID"
    count = [i for i in bad(sub["issues"]) if i["rule_id"] == "2.1.17"][0]
    assert (count["expected"], count["actual"]) == (6, 2)
    assert "2.1.13" in rule_ids(sub["issues"])  # no datagen leaf
    assert rep["verdict"] == "INVALID"
    json.dumps(rep)  # JSON-able


def test_verify_tree_on_one_run_directory_skips_the_result_checks(tmp_path):
    root = tiny_tree(str(tmp_path), runs=1)
    leaf = os.path.join(root, "closed/lab/results/smoke/training/unet3d/run/20261123_100000")
    rep = verify_tree(leaf).to_dict()
    assert [r["path"] for r in rep["runs"]] == ["."]
    assert rep["submissions"] == []
    assert rep["runs"][0]["division"] == "closed"
