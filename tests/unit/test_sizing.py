# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Sizing a declared cluster (plugin_utils/_sizing.py, the datasize playbook's answer): the expected figures are
computed here from the rules formula (rules.md 3.4, 4.7) and the workload files, not taken from the code."""
import json
import math
import os

import pytest
import yaml

from _testpaths import REPO
from ansible_collections.mlperf.storage.plugins.plugin_utils._run_record import run_metadata
from ansible_collections.mlperf.storage.plugins.plugin_utils._sizing import datasize_answer
from ansible_collections.mlperf.storage.plugins.plugin_utils.rules import verify_tree

GIB = 1024 ** 3
WORKLOADS = os.path.join(REPO, "plugins", "plugin_utils", "data", "workloads")
# rules.md 3.4: dataset >= 5 x client memory, and 500 steps per epoch for every accelerator
MEMORY_MULTIPLIER, STEPS = 5, 500


def workload(name):
    with open(os.path.join(WORKLOADS, name + ".yaml")) as handle:
        data = yaml.safe_load(handle)
    return data["dataset"]["record_length_bytes"], data["dataset"].get("num_samples_per_file", 1), \
        data["reader"]["batch_size"]


def rule(hosts, memory_gib, accelerators, record, samples, batch, rounding=math.ceil):
    """(required files, by memory, by steps) of the dataset-size rule, v3.x rounding unless told."""
    by_memory = rounding(MEMORY_MULTIPLIER * hosts * memory_gib * GIB / (samples * record))
    by_steps = STEPS * accelerators * batch // samples
    return max(by_memory, by_steps), by_memory, by_steps


def example(**overrides):
    """The worked example of the playbook: 4 hosts x 512 GiB x 8 b200 for unet3d."""
    req = {"model": "unet3d", "accelerator": "b200", "num_client_hosts": 4, "client_memory_gb": 512,
           "accelerators_per_host": 8}
    req.update(overrides)
    return req


def ok(req):
    answer = datasize_answer(req)
    assert answer["errors"] == [], answer["errors"]
    return answer


# --- training -------------------------------------------------------------------------------------------------

def test_four_hosts_of_512_gib_with_eight_b200_for_unet3d():
    record, samples, batch = workload("unet3d_b200")
    required, by_memory, by_steps = rule(4, 512, 32, record, samples, batch)
    answer = ok(example())
    ds = answer["datasize"]
    assert (ds["required_files"], ds["files_by_memory"], ds["files_by_steps"]) == (required, by_memory, by_steps)
    assert by_steps > by_memory and ds["dominant"] == "steps"
    assert ds["total_disk_bytes"] == required * samples * record
    assert ds["required_subfolders"] == 0
    assert answer["num_accelerators"] == answer["cluster_accelerators"] == 32
    assert answer["total_memory_bytes"] == 4 * 512 * GIB
    assert answer["workload"] == {"name": "unet3d_b200", "record_length_bytes": record,
                                  "num_samples_per_file": samples, "batch_size": batch}
    assert answer["rules"] == {"steps_per_epoch": STEPS, "memory_multiplier": MEMORY_MULTIPLIER, "rounding": "ceil"}
    text = "\n".join(answer["lines"])
    assert "Required: %d training files" % required in text
    assert "The step term dominates" in text
    assert "%d bytes per file = %d files" % (record, by_memory) in text
    assert "dataset.num_files_train: %d" % required in text
    assert "leaf" not in answer  # nothing to write unless asked


def test_string_inputs_as_extra_vars_give_them():
    # -e key=value hands the numbers over as strings
    assert ok(example(num_client_hosts="4", client_memory_gb="512", accelerators_per_host="8"))["datasize"] == \
        ok(example())["datasize"]


def test_edition_2_floors_the_memory_term():
    # rules.md 3.4 worked example: unet3d, 1 host x 256 GiB, 8 accelerators -> 28000 files (steps dominate)
    record, samples, batch = workload("unet3d_h100")
    answer = ok({"model": "unet3d", "accelerator": "h100", "edition": "2.0", "num_client_hosts": 1,
                 "client_memory_gb": 256, "accelerators_per_host": 8})
    assert answer["rules"]["rounding"] == "floor"
    assert answer["datasize"]["files_by_memory"] == rule(1, 256, 8, record, samples, batch, math.floor)[1]
    assert answer["datasize"]["required_files"] == 28000


def test_open_samples_per_file_changes_the_size():
    record, _samples, batch = workload("unet3d_b200")
    answer = ok(example(division="open", params={"dataset.num_samples_per_file": 2}))
    assert answer["datasize"]["required_files"] == rule(4, 512, 32, record, 2, batch)[0]


def test_memory_bound_model():
    record, samples, batch = workload("retinanet_b200")
    answer = ok({"model": "retinanet", "accelerator": "b200", "num_client_hosts": 1, "client_memory_gb": 256,
                 "accelerators_per_host": 8})
    required, by_memory, by_steps = rule(1, 256, 8, record, samples, batch)
    assert by_memory > by_steps
    assert answer["datasize"]["required_files"] == required and answer["datasize"]["dominant"] == "memory"
    assert answer["search"]["steps_dominate"] is None
    assert answer["search"]["memory_dominates"] == {"from": 1, "to": 8}


# --- the max-accelerators search ------------------------------------------------------------------------------

def expected_ranges(hosts, memory_gib, largest, name):
    """Which term dominates at each count a cluster of ``hosts`` can run, by walking every count."""
    record, samples, batch = workload(name)
    memory, steps = [], []
    for count in range(hosts, largest + 1, hosts):
        _required, by_memory, by_steps = rule(hosts, memory_gib, count, record, samples, batch)
        (memory if by_memory >= by_steps else steps).append(count)
    return memory, steps


def test_max_accelerators_sizes_for_the_largest_count_and_finds_where_each_term_dominates():
    record, samples, batch = workload("unet3d_b200")
    answer = ok(example(max_accelerators=64))
    assert answer["num_accelerators"] == 64 and answer["max_accelerators"] == 64
    assert answer["datasize"]["required_files"] == rule(4, 512, 64, record, samples, batch)[0]
    memory, steps = expected_ranges(4, 512, 64, "unet3d_b200")
    assert memory and steps  # this example crosses over inside the range
    search = answer["search"]
    assert search["counts"] == {"from": 4, "to": 64, "step": 4}
    assert search["memory_dominates"] == {"from": memory[0], "to": memory[-1]}
    assert search["steps_dominate"] == {"from": steps[0], "to": steps[-1]}
    rows = {row["accelerators"]: row for row in search["rows"]}
    # both sides of the boundary, the cluster's own count and the largest are shown
    assert {memory[-1], steps[0], 32, 64} <= set(rows)
    assert rows[memory[-1]]["dominant"] == "memory" and rows[steps[0]]["dominant"] == "steps"
    for count, row in rows.items():
        assert row["required_files"] == rule(4, 512, count, record, samples, batch)[0]
    assert "memory dominates for %d-%d; steps dominate for %d-64" % (memory[0], memory[-1], steps[0]) in \
        "\n".join(answer["lines"])


def test_search_when_one_term_dominates_everywhere():
    answer = ok({"model": "retinanet", "accelerator": "b200", "num_client_hosts": 2, "client_memory_gb": 1024,
                 "accelerators_per_host": 4, "max_accelerators": 16})
    memory, steps = expected_ranges(2, 1024, 16, "retinanet_b200")
    assert steps == [] and answer["search"]["memory_dominates"] == {"from": 2, "to": 16}
    assert answer["search"]["steps_dominate"] is None


def test_max_accelerators_not_a_multiple_of_the_hosts_is_sized_as_given_with_a_warning():
    record, samples, batch = workload("unet3d_b200")
    answer = ok(example(max_accelerators=34))
    assert answer["datasize"]["required_files"] == rule(4, 512, 34, record, samples, batch)[0]
    assert answer["search"]["counts"]["to"] == 32
    assert any("not a multiple of the 4 hosts" in w and "largest run is 32" in w for w in answer["warnings"])


def test_max_accelerators_below_the_cluster_is_refused():
    answer = datasize_answer(example(max_accelerators=16))
    assert [(e["variable"], "below the 32 accelerators" in e["message"], "32 or more" in e["fix"])
            for e in answer["errors"]] == [("mlperf_max_accelerators", True, True)]


# --- checkpointing -------------------------------------------------------------------------------------------

# rules.md 2.2: (model GB, optimizer GB) of a full checkpoint
LLM_SIZES = {"llama3-8b": (15, 90), "llama3-70b": (130, 781), "llama3-405b": (755, 4533), "llama3-1t": (2571, 15426)}


def test_checkpointing_model_zero_3_splits_evenly():
    model_gb, optimizer_gb = LLM_SIZES["llama3-70b"]
    answer = ok({"model": "llama3-70b", "accelerator": "b200", "num_client_hosts": 8, "client_memory_gb": 16,
                 "accelerators_per_host": 8})
    ckpt = answer["checkpoint"]
    assert answer["benchmark"] == "checkpointing" and answer["num_processes"] == 64
    assert ckpt["zero_level"] == 3
    assert ckpt["per_rank_gb"] == pytest.approx([(model_gb + optimizer_gb) / 64] * 64)
    assert ckpt["total_gb"] == pytest.approx(model_gb + optimizer_gb)
    assert (ckpt["writes"], ckpt["reads"]) == (10, 10)
    assert ckpt["written_gb"] == pytest.approx(10 * (model_gb + optimizer_gb))
    assert ckpt["per_host_checkpoint_gb"] == pytest.approx((model_gb + optimizer_gb) / 8)
    assert ckpt["aggregate_accelerator_memory_gb"] == 64 * 180  # rules.md 2.2 Table 3: b200 180 GB
    assert answer["warnings"] == []  # 64 processes is CLOSED, 113.9 GB per host is over 3 x 16 GiB
    assert "Totals: 10 writes = 9,110.00 GB written" in "\n".join(answer["lines"])


def test_checkpointing_zero_1_rank_0_holds_the_model():
    model_gb, optimizer_gb = LLM_SIZES["llama3-405b"]
    answer = ok({"model": "llama3-405b", "accelerator": "b200", "division": "open", "num_client_hosts": 32,
                 "client_memory_gb": 16, "accelerators_per_host": 8})
    per_rank = answer["checkpoint"]["per_rank_gb"]
    assert per_rank[0] == pytest.approx(model_gb + optimizer_gb / 256)
    assert per_rank[1:] == pytest.approx([optimizer_gb / 256] * 255)


def test_checkpointing_warnings_process_count_memory_and_cache():
    answer = ok({"model": "llama3-1t", "accelerator": "b200", "num_client_hosts": 1, "client_memory_gb": 8192,
                 "accelerators_per_host": 8, "max_accelerators": 64})
    text = "\n".join(answer["warnings"])
    assert "needs exactly 1024 processes" in text                  # CLOSED process count (rules 4.6.1)
    assert "8 x b200 (180 GB each) = 1440 GB" in text and "4.3.4" in text
    assert "below 3x memory" in text                               # rule 4.3.1
    assert "mlperf_max_accelerators is not used for checkpointing" in text


# --- the leaf -------------------------------------------------------------------------------------------------

def write_req(tmp_path, **overrides):
    return example(write=True, results_dir=str(tmp_path / "results"), data_dir=str(tmp_path / "data"), org="acme",
                   system="sys1", **overrides)


def test_leaf_metadata_records_what_the_rules_need_and_verifies(tmp_path):
    answer = ok(write_req(tmp_path))
    leaf = answer["leaf"]
    assert leaf["base"] == str(tmp_path / "results" / "closed" / "acme" / "results" / "sys1" / "training" / "unet3d"
                               / "datasize")
    stamp = "20270101_120000"
    run = os.path.join(leaf["base"], stamp)
    os.makedirs(run)
    meta = run_metadata(leaf["plan"], "datasize", run, stamp)
    with open(os.path.join(run, "training_%s_metadata.json" % stamp), "w") as handle:
        json.dump(meta, handle)
    required = answer["datasize"]["required_files"]
    assert meta["command"] == "datasize" and meta["num_processes"] == 32
    assert meta["parameters"]["dataset"]["num_files_train"] == required
    assert meta["parameters"]["dataset"]["total_disk_bytes"] == answer["datasize"]["total_disk_bytes"]
    assert meta["parameters"]["dataset"]["data_folder"] == str(tmp_path / "data" / "unet3d")
    assert {k: meta["args"][k] for k in ("model", "accelerator_type", "max_accelerators", "client_host_memory_in_gb",
                                         "num_client_hosts", "data_dir")} == {
        "model": "unet3d", "accelerator_type": "b200", "max_accelerators": 32, "client_host_memory_in_gb": 512,
        "num_client_hosts": 4, "data_dir": str(tmp_path / "data")}
    assert meta["system_info"]["collection_method"] == "declared"
    report = verify_tree(run).to_dict()
    assert report["verdict"] == "CLOSED", report
    assert "3.3.1" in [i["rule_id"] for r in report["runs"] for i in r["issues"]]


def test_leaf_of_a_max_accelerators_sizing_records_the_max(tmp_path):
    answer = ok(write_req(tmp_path, max_accelerators=64))
    meta = run_metadata(answer["leaf"]["plan"], "datasize", "/r/x", "20270101_120000")
    assert meta["args"]["max_accelerators"] == 64 == meta["num_processes"]


# --- bad input ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("overrides, variable, needle, fix", [
    ({"model": "resnet9"}, "mlperf_model", "unknown model 'resnet9'", "one of them"),
    ({"model": None}, "mlperf_model", "mlperf_model is not set", "-e mlperf_model="),
    ({"accelerator": "mi355"}, "mlperf_accelerator", "'mi355' is not available for mlperf_model 'unet3d'",
     "one of them"),
    ({"accelerator": "a100"}, "mlperf_division", "may not run in division 'closed'", "mlperf_division"),
    ({"accelerator": "tpu9"}, "mlperf_accelerator", "unknown accelerator 'tpu9'", "one of them"),
    ({"edition": "9.9"}, "mlperf_edition", "mlperf_edition is '9.9'; known editions are", "one of them"),
    ({"division": "secret"}, "mlperf_division", "unknown division 'secret'", "one of them"),
    ({"num_client_hosts": 0}, "mlperf_num_client_hosts", "must be at least 1", "1 or more"),
    ({"num_client_hosts": "four"}, "mlperf_num_client_hosts", "must be a whole number", "whole number"),
    ({"num_client_hosts": None}, "mlperf_num_client_hosts", "mlperf_num_client_hosts is not set",
     "-e mlperf_num_client_hosts="),
    ({"accelerators_per_host": -8}, "mlperf_accelerators_per_host", "must be at least 1", "1 or more"),
    ({"accelerators_per_host": 2.5}, "mlperf_accelerators_per_host", "must be a whole number", "whole number"),
    ({"client_memory_gb": 0}, "mlperf_client_memory_gb", "no clients to read it from", "memory of each host"),
    ({"client_memory_gb": -512}, "mlperf_client_memory_gb", "cannot be below 0", "positive number"),
    ({"client_memory_gb": "lots"}, "mlperf_client_memory_gb", "must be a number", "number"),
    ({"client_memory_gb": None}, "mlperf_client_memory_gb", "mlperf_client_memory_gb is not set",
     "-e mlperf_client_memory_gb="),
    ({"max_accelerators": 0}, "mlperf_max_accelerators", "must be at least 1", "1 or more"),
    ({"params": ["dataset.num_files_train=5"]}, "mlperf_params", "it must be a mapping", "mapping"),
    ({"params": {"dataset.format": "jpeg"}}, "mlperf_params", "dataset.format may only be overridden in OPEN",
     "mlperf_division: open"),
    ({"params": {"train.epochs": 1}}, "mlperf_params", "not an allowed override", "remove train.epochs"),
    ({"write": "maybe"}, "mlperf_datasize_write", "must be true or false", "true or false"),
    ({"write": True, "results_dir": "results", "data_dir": "/data", "org": "o", "system": "s"},
     "mlperf_controller_results_dir", "give an absolute path", "absolute path"),
    ({"write": True, "results_dir": "/r", "data_dir": "/r/data", "org": "o", "system": "s"},
     "mlperf_controller_results_dir/mlperf_data_dir", "is inside", "separate directories"),
    ({"write": True, "results_dir": "/r", "data_dir": "/d", "org": "a/b", "system": "s"}, "mlperf_org",
     "results path segment", "example-org"),
    ({"write": True, "results_dir": "/r", "data_dir": "/d", "org": "o", "system": None}, "mlperf_system",
     "results path segment", "example-org"),
    ({"model": "llama3-8b", "write": True, "results_dir": "/r", "data_dir": "/d", "org": "o", "system": "s"},
     "mlperf_datasize_write", "checkpointing results have none", "mlperf_datasize_write: false"),
    ({"model": "llama3-8b", "accelerator": "h100"}, "mlperf_accelerator",
     "cannot be simulated for checkpointing in the closed division", "one of them"),
    ({"model": "llama3-8b", "edition": "2.0", "division": "whatif"}, "mlperf_division",
     "mlperf_division is 'whatif'; edition 2.0 has closed, open", "one of them"),
])
def test_bad_input_names_the_variable_and_the_fix(overrides, variable, needle, fix):
    answer = datasize_answer(example(**overrides))
    assert set(answer) == {"errors", "warnings"}  # no partial answer
    found = [e for e in answer["errors"] if e["variable"] == variable]
    assert found, answer["errors"]
    assert any(needle in e["message"] and fix in e["fix"] for e in found), found


def test_every_missing_variable_is_reported_at_once():
    answer = datasize_answer({})
    assert [e["variable"] for e in answer["errors"]] == [
        "mlperf_model", "mlperf_accelerator", "mlperf_num_client_hosts", "mlperf_client_memory_gb",
        "mlperf_accelerators_per_host"]
    assert all(e["fix"].startswith("pass it, e.g. -e ") for e in answer["errors"])


def test_nothing_left_for_the_leaf_when_not_writing():
    # paths and names are only needed for the leaf: bad ones do not stop a sizing that writes nothing
    answer = ok(example(write=False, results_dir="relative", org="a/b"))
    assert "leaf" not in answer
