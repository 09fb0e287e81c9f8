# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The whatif-only training models of edition 3.0 go the normal path: edition data (pairs), their DLIO workloads
and datagen workload. A whatif plan for them works in the planner, and the verifier accepts them in whatif only."""
import math
import os

import pytest
import yaml

from ansible_collections.mlperf.storage.plugins.plugin_utils import _workloads as wl
from ansible_collections.mlperf.storage.plugins.plugin_utils._training_plan import plan_training
from ansible_collections.mlperf.storage.plugins.plugin_utils.rules import classify_planned_run, load_edition

GIB = 1024 ** 3
EDITION = "3.0"
# what the edition data offers in whatif only (a pair whose divisions are exactly [whatif]), as the edition says
WHATIF_ONLY_MODELS = sorted(m for m in load_edition(EDITION).training_models("whatif")
                            if m not in load_edition(EDITION).training_models("closed")
                            and m not in load_edition(EDITION).training_models("open"))
WHATIF_ONLY_PAIRS = [(m, a) for m in WHATIF_ONLY_MODELS for a in load_edition(EDITION).training_pairs()[m]]
MLPERF_V3_ENGINE = {"generation": "mlperf-v3.0", "version": "3.0.0", "source": "git", "profile": "submission",
                    "lock_hash": "b" * 64}


def _workload_file(name):
    with open(os.path.join(wl.WORKLOAD_DIR, name + ".yaml"), encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def _req(model, accelerator, division="whatif", memory_gib=64, per_host=4, engine=None):
    return {
        "edition": EDITION, "division": division, "model": model, "accelerator": accelerator, "params": {},
        "clients": [{"host": "node1", "mpi_host": "node1", "memtotal_bytes": memory_gib * GIB, "cores": 8}],
        "launcher": "node1", "accelerators_per_host": per_host, "client_memory_gb": 0, "runs": 0,
        "engine": dict(engine or MLPERF_V3_ENGINE),
        "mpi": {"implementation": "mpich", "version": "5.0.2", "run_as_root": False, "extra_args": []},
        "paths": {"data_dir": "/mnt/data", "results_dir": "/shared/results", "work_dir": "/var/tmp/work",
                  "venv_bin": "/opt/venv/bin"},
        "org": "acme", "system": "sys1", "allow_invalid": False,
    }


def test_flux_is_offered_in_whatif_on_the_v3_accelerators():
    assert ("flux", "b200") in WHATIF_ONLY_PAIRS and ("flux", "mi355") in WHATIF_ONLY_PAIRS
    assert load_edition(EDITION).pair_divisions("flux", "b200") == ["whatif"]
    # the older edition never had it
    assert "flux" not in load_edition("2.0").training_models()


@pytest.mark.parametrize("model,accelerator", WHATIF_ONLY_PAIRS)
def test_whatif_plan_works(model, accelerator):
    plan = plan_training(_req(model, accelerator))
    assert plan["errors"] == []
    workload = _workload_file(wl.workload_name(model, accelerator))
    dataset, reader = workload["dataset"], workload["reader"]
    # rules.md 3.4 (rounded up): 5 x 64 GiB over the file size, or 500 steps x 4 accelerators x batch
    file_bytes = dataset["num_samples_per_file"] * dataset["record_length_bytes"]
    by_memory = math.ceil(5 * 64 * GIB / file_bytes)
    by_steps = 500 * 4 * reader["batch_size"] // dataset["num_samples_per_file"]
    assert (plan["datasize"]["files_by_memory"], plan["datasize"]["files_by_steps"]) == (by_memory, by_steps)
    assert plan["num_files_train"] == max(by_memory, by_steps)
    assert plan["runs"] == 6
    assert plan["parameters"]["dataset"]["format"] == dataset["format"]
    assert plan["parameters"]["train"]["computation_time"] == workload["train"]["computation_time"]
    assert "workload=%s_%s" % (model, accelerator) in plan["commands"]["run"]["argv"]
    assert "workload=%s_datagen" % model in plan["commands"]["datagen"]["argv"]
    # the verifier accepts the model and accelerator in whatif: the only finding that is not CLOSED is that
    # whatif results are exploratory
    classification = plan["classification"]
    assert classification["verdict"] == "OPEN"
    assert [i["rule_id"] for i in classification["issues"] if i["validation"] != "CLOSED"] == ["DIV-01"]
    assert any(i["rule_id"] == "3.0-MODEL" and i["validation"] == "CLOSED" for i in classification["issues"])


@pytest.mark.parametrize("model,accelerator", WHATIF_ONLY_PAIRS)
@pytest.mark.parametrize("division", ["closed", "open"])
def test_whatif_only_models_are_refused_elsewhere(model, accelerator, division):
    plan = plan_training(_req(model, accelerator, division=division))
    assert plan["errors"] == [{
        "variable": "mlperf_division",
        "message": "%s + %s may not run in division %r of edition %s; allowed divisions for this pair are whatif"
                   % (model, accelerator, division, EDITION),
        "fix": "set mlperf_division to one of them, or choose a pair that %s allows" % division}]
    # and the verifier judges such a run INVALID for its model
    metadata = plan_training(_req(model, accelerator))["metadata_base"]
    run = classify_planned_run(metadata, edition=EDITION, division=division)
    assert run["verdict"] == "INVALID"
    assert "model" in [i["parameter"] for i in run["issues"]
                       if i["validation"] == "INVALID" and i["rule_id"] == "3.0-MODEL"]


@pytest.mark.parametrize("model", WHATIF_ONLY_MODELS)
def test_datagen_writes_what_the_runs_read(model):
    gen = wl.load_datagen_workload(model, EDITION)
    assert gen["workflow"] == {"generate_data": True, "train": False, "checkpoint": False}
    for accel in load_edition(EDITION).training_pairs()[model]:
        run = wl.load_workload(model, accel, EDITION)
        assert run["workflow"] == {"generate_data": False, "train": True, "checkpoint": False}
        for key in ("format", "compression", "num_samples_per_file", "record_length_bytes", "parquet"):
            assert gen["dataset"].get(key) == run["dataset"].get(key), (accel, key)


def test_flux_record_length_is_the_sum_of_its_float32_columns():
    for accel in ("b200", "mi355"):
        dataset = wl.load_workload("flux", accel, EDITION)["dataset"]
        columns = dataset["parquet"]["columns"]
        assert {c["dtype"] for c in columns} == {"float32"}
        assert dataset["record_length_bytes"] == 4 * sum(c["size"] for c in columns)


def test_flux_needs_an_engine_that_reads_parquet():
    plan = plan_training(_req("flux", "b200", engine={"generation": "pypi-2.0.0", "version": "2.0.0",
                                                       "source": "pypi", "profile": "embedded",
                                                       "lock_hash": "a" * 64}))
    refused = [e for e in plan["errors"] if "would not apply dataset.format" in e["message"]]
    assert len(refused) == 1 and "parquet" in refused[0]["message"]
    assert "mlperf_env_profile: submission" in refused[0]["fix"]


def test_dlrm_is_not_offered():
    # upstream lists dlrm as whatif-only, but its upstream workload values disagree between versions
    # (docs/extending.md): no pair, so the planner names it unknown and the verifier does not know it
    (problem,) = wl.check_pair("dlrm", "b200", EDITION, "whatif")
    assert problem["variable"] == "mlperf_model" and problem["message"].startswith("unknown training model 'dlrm'")
    assert "dlrm" not in load_edition(EDITION).training_models()
