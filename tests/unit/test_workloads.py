# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Workload definitions, edition tables and override classification."""
import os

import pytest
import yaml

from ansible_collections.mlperf.storage.plugins.plugin_utils import _workloads as wl
from ansible_collections.mlperf.storage.plugins.plugin_utils.rules.edition import load_edition

# rules.md section 3.1, one row per template: the values every template must carry.
TABLE_3_1 = {
    ("unet3d", "a100"): dict(framework="pytorch", loader="pytorch", fmt="npz", spf=1, rec=146600628,
                             stdev=68341808, resize=2097152, files=168, batch=7, threads=4, epochs=5,
                             comp=0.636, au=0.90, checkpoint=True),
    ("unet3d", "h100"): dict(framework="pytorch", loader="pytorch", fmt="npz", spf=1, rec=146600628,
                             stdev=68341808, resize=2097152, files=168, batch=7, threads=4, epochs=5,
                             comp=0.323, au=0.90, checkpoint=True),
    ("unet3d", "b200"): dict(framework="pytorch", loader="pytorch", fmt="npz", spf=1, rec=146600628,
                             stdev=68341808, resize=2097152, files=7200, batch=7, threads=4, epochs=5,
                             comp=0.162, au=0.90, checkpoint=False),
    ("resnet50", "a100"): dict(framework="tensorflow", loader="tensorflow", fmt="tfrecord", spf=1251,
                               rec=114660.07, stdev=None, resize=150528, files=1024, batch=400, threads=8,
                               epochs=5, comp=0.435, au=0.90, checkpoint=False),
    ("resnet50", "h100"): dict(framework="tensorflow", loader="tensorflow", fmt="tfrecord", spf=1251,
                               rec=114660.07, stdev=None, resize=150528, files=1024, batch=400, threads=8,
                               epochs=5, comp=0.224, au=0.90, checkpoint=False),
    ("cosmoflow", "a100"): dict(framework="tensorflow", loader="tensorflow", fmt="tfrecord", spf=1,
                                rec=2828486, stdev=71311, resize=None, files=524288, batch=1, threads=4,
                                epochs=5, comp=0.00551, au=0.70, checkpoint=False),
    ("cosmoflow", "h100"): dict(framework="tensorflow", loader="tensorflow", fmt="tfrecord", spf=1,
                                rec=2828486, stdev=71311, resize=None, files=524288, batch=1, threads=4,
                                epochs=5, comp=0.00350, au=0.70, checkpoint=False),
    ("retinanet", "b200"): dict(framework="pytorch", loader="pytorch", fmt="jpeg", spf=1, rec=322957,
                                stdev=None, resize=None, files=1170301, batch=24, threads=8, epochs=8,
                                comp=0.04755, au=0.85, checkpoint=False),
    ("retinanet", "mi355"): dict(framework="pytorch", loader="pytorch", fmt="jpeg", spf=1, rec=322957,
                                 stdev=None, resize=None, files=1170301, batch=32, threads=8, epochs=8,
                                 comp=0.0634, au=0.85, checkpoint=False),
}


def _edition_for(model, accel):
    return "3.0" if (model, accel) in {("unet3d", "b200"), ("unet3d", "a100"), ("retinanet", "b200"),
                                       ("retinanet", "mi355"), ("resnet50", "a100"), ("resnet50", "h100"),
                                       ("cosmoflow", "a100"), ("cosmoflow", "h100")} else "2.0"


@pytest.mark.parametrize("pair", sorted(TABLE_3_1))
def test_every_template_carries_the_table_values(pair):
    model, accel = pair
    want = TABLE_3_1[pair]
    cfg = wl.load_workload(model, accel, edition=_edition_for(model, accel))
    assert cfg["model"]["name"] == model
    assert cfg["framework"] == want["framework"]
    assert cfg["reader"]["data_loader"] == want["loader"]
    assert cfg["dataset"]["format"] == want["fmt"]
    assert cfg["dataset"]["num_samples_per_file"] == want["spf"]
    assert cfg["dataset"]["record_length_bytes"] == want["rec"]
    assert cfg["dataset"].get("record_length_bytes_stdev") == want["stdev"]
    assert cfg["dataset"].get("record_length_bytes_resize") == want["resize"]
    assert cfg["dataset"]["num_files_train"] == want["files"]
    assert cfg["reader"]["batch_size"] == want["batch"]
    assert cfg["reader"]["read_threads"] == want["threads"]
    assert cfg["train"]["epochs"] == want["epochs"]
    assert cfg["train"]["computation_time"] == pytest.approx(want["comp"])
    assert cfg["metric"]["au"] == pytest.approx(want["au"])
    assert cfg["workflow"] == {"generate_data": False, "train": True, "checkpoint": want["checkpoint"]}


def test_template_details_from_the_rules_text():
    a100 = wl.load_workload("resnet50", "a100")
    assert a100["reader"]["dont_use_mmap"] is True
    assert a100["reader"]["computation_threads"] == 8
    assert "dont_use_mmap" not in wl.load_workload("resnet50", "h100")["reader"]
    cosmo = wl.load_workload("cosmoflow", "h100")
    assert cosmo["reader"]["shuffle_size"] == 2
    assert cosmo["reader"]["file_shuffle"] == cosmo["reader"]["sample_shuffle"] == "seed"
    unet = wl.load_workload("unet3d", "a100")
    assert unet["checkpoint"] == {"checkpoint_folder": "checkpoints/unet3d", "checkpoint_after_epoch": 5,
                                  "epochs_between_checkpoints": 2}
    assert unet["model"]["model_size"] == 499153191


def test_every_workload_file_is_listed_in_some_edition_and_vice_versa():
    # llama3_*.yaml are the checkpointing workloads (_checkpointing_plan), not training pairs
    files = {n[:-5] for n in os.listdir(wl.WORKLOAD_DIR) if n.endswith(".yaml") and not n.endswith("_datagen.yaml")
             and not n.startswith("llama3_")}
    listed = set()
    for edition in wl.editions():
        for model, by_accel in wl.edition_rules(edition)["pairs"].items():
            listed.update(wl.workload_name(model, a) for a in by_accel)
    assert files == listed


@pytest.mark.parametrize("model", ["unet3d", "resnet50", "cosmoflow", "retinanet"])
def test_datagen_templates_only_generate_and_match_the_run_dataset(model):
    gen = wl.load_datagen_workload(model, edition="3.0")
    assert gen["workflow"] == {"generate_data": True, "train": False, "checkpoint": False}
    accel = sorted(wl.edition_rules("3.0")["pairs"][model])[0]
    run = wl.load_workload(model, accel)
    for key in ("format", "num_samples_per_file", "record_length_bytes", "record_length_bytes_stdev",
                "record_length_bytes_resize"):
        assert gen["dataset"].get(key) == run["dataset"].get(key), key
    assert gen["framework"] == run["framework"]


def test_load_workload_returns_independent_copies():
    first = wl.load_workload("unet3d", "b200")
    first["dataset"]["num_files_train"] = 1
    assert wl.load_workload("unet3d", "b200")["dataset"]["num_files_train"] == 7200


def test_workload_names():
    assert wl.workload_name("unet3d", "b200") == "unet3d_b200"
    assert wl.workload_name("llama3-8b", "b200") == "llama3_8b_b200"
    assert wl.datagen_workload_name("retinanet") == "retinanet_datagen"


def test_load_workload_refuses_pairs_missing_from_the_edition():
    with pytest.raises(wl.WorkloadError, match=r"mlperf_accelerator: 'h100'.*unet3d.*3\.0.*a100, b200"):
        wl.load_workload("unet3d", "h100", edition="3.0")
    with pytest.raises(wl.WorkloadError, match=r"mlperf_model: 'retinanet' is not a training model of edition 2\.0"):
        wl.load_workload("retinanet", "b200", edition="2.0")
    with pytest.raises(wl.WorkloadError, match=r"mlperf_edition: unknown edition '9\.9'"):
        wl.load_workload("unet3d", "b200", edition="9.9")
    assert wl.load_workload("unet3d", "h100", edition="2.0")["train"]["computation_time"] == 0.323


class TestCheckPair:
    def test_closed_pairs_of_v3(self):
        for model, accel in [("unet3d", "b200"), ("retinanet", "b200"), ("retinanet", "mi355")]:
            assert wl.check_pair(model, accel, "3.0", "closed") == []
            assert wl.check_pair(model, accel, "3.0", "whatif") == []

    def test_problems_are_structured(self):
        for problems in (wl.check_pair("bert", "tpu", "3.0", "final"), wl.check_pair("unet3d", "a100", "3.0", "open"),
                         wl.check_pair("unet3d", "b200", "9.9", "closed")):
            assert problems
            for problem in problems:
                assert set(problem) == {"variable", "message", "fix"}
                assert problem["variable"].startswith("mlperf_")
                assert not problem["message"].startswith("mlperf_") and not problem["message"].endswith(".")
                assert problem["fix"][:1].islower() and not problem["fix"].endswith(".")

    def test_whatif_only_pair_in_closed(self):
        (err,) = wl.check_pair("resnet50", "h100", "3.0", "closed")
        assert err["variable"] == "mlperf_division"
        assert "'closed'" in err["message"] and "whatif" in err["message"]
        assert err["fix"].startswith("set mlperf_division")
        assert wl.check_pair("resnet50", "h100", "3.0", "whatif") == []

    def test_unknown_values_name_the_variable_and_the_choices(self):
        (err,) = wl.check_pair("bert", "b200", "3.0", "closed")
        assert err["variable"] == "mlperf_model"
        assert err["message"].startswith("unknown training model 'bert'")
        assert "cosmoflow, " in err["message"] and "resnet50, retinanet, unet3d" in err["message"]
        assert err["fix"] == "set mlperf_model to one of them"
        (err,) = wl.check_pair("unet3d", "tpu", "3.0", "closed")
        assert err["variable"] == "mlperf_accelerator"
        assert err["message"] == "unknown accelerator 'tpu'; allowed values are a100, b200, h100, mi355"
        errs = wl.check_pair("bert", "tpu", "3.0", "final")
        assert [e["variable"] for e in errs] == ["mlperf_division", "mlperf_model", "mlperf_accelerator"]

    def test_pair_missing_in_edition(self):
        (err,) = wl.check_pair("unet3d", "mi355", "3.0", "closed")
        assert (err["variable"], err["message"]) == (
            "mlperf_accelerator", "'mi355' is not available for mlperf_model 'unet3d' in edition 3.0; allowed "
                                  "accelerators for it are a100, b200")
        (err,) = wl.check_pair("retinanet", "b200", "2.0", "closed")
        assert err["variable"] == "mlperf_model"
        assert err["message"].startswith("'retinanet' is not a training model of edition 2.0")
        assert err["fix"] == "choose one of those, or set mlperf_edition to an edition that has retinanet"

    def test_v2_has_no_whatif(self):
        (err,) = wl.check_pair("unet3d", "a100", "2.0", "whatif")
        assert err["message"].endswith("allowed divisions for this pair are closed, open")
        assert wl.check_pair("cosmoflow", "h100", "2.0", "closed") == []

    def test_unknown_edition(self):
        (err,) = wl.check_pair("unet3d", "b200", "9.9", "closed")
        assert err == {"variable": "mlperf_edition", "message": "unknown edition '9.9'; known editions are 3.0, 2.0",
                       "fix": "set mlperf_edition to one of them"}

    def test_load_workload_error_carries_the_problems(self):
        with pytest.raises(wl.WorkloadError) as err:
            wl.load_workload("unet3d", "mi355", "3.0")
        assert err.value.problems == wl.check_pair("unet3d", "mi355", "3.0", "closed")
        assert str(err.value) == wl.problem_text(err.value.problems[0])
        assert str(err.value).endswith(". Set mlperf_accelerator to one of them.")


class TestEditionData:
    def test_run_counts_and_thresholds(self):
        v3 = wl.edition_rules("3.0")
        assert v3["runs"] == {"warmup": 1, "measured": 5}
        assert v3["au_threshold"]["unet3d"] == 0.90 and v3["au_threshold"]["retinanet"] == 0.85
        v2 = wl.edition_rules("2.0")
        assert v2["au_threshold"] == {"unet3d": 0.90, "resnet50": 0.90, "cosmoflow": 0.70}
        assert v2["datasize_rounding"] == "floor" and v3["datasize_rounding"] == "ceil"
        # a v2.0 plan still makes a warm-up and five measured runs; its verifier asks for at least five
        assert v2["runs"] == {"warmup": 1, "measured": 5}
        assert wl.steps_per_epoch() == 500 and wl.memory_multiplier() == 5
        assert wl.steps_per_epoch("2.0") == 500 and wl.memory_multiplier("2.0") == 5

    def test_planner_facts_are_the_verifiers(self):
        for edition in wl.editions():
            rules, ed = wl.edition_rules(edition), load_edition(edition)
            assert rules["pairs"] == ed.section("training")["pairs"]
            assert rules["au_threshold"] == ed.section("training")["au_thresholds"]
            assert rules["overrides"]["tool"] == ed.section("training")["overrides"]["tool_injected"]
            planned = rules["runs"]["warmup"] + rules["runs"]["measured"]
            need, rule = ed.section("training")["runs_per_result"], ed.section("training")["run_count_rule"]
            assert planned == need if rule == "exact" else planned >= need

    def test_thresholds_agree_with_templates(self):
        for edition in wl.editions():
            rules = wl.edition_rules(edition)
            for model, by_accel in rules["pairs"].items():
                for accel in by_accel:
                    assert wl.load_workload(model, accel, edition)["metric"]["au"] == rules["au_threshold"][model]

    def test_prefetch_window_is_v3_only(self):
        assert "storage.storage_options.prefetch_window" in wl.edition_rules("3.0")["overrides"]["closed"]
        assert "storage.storage_options.prefetch_window" not in wl.edition_rules("2.0")["overrides"]["closed"]

    def test_there_is_no_second_edition_table(self):
        assert not os.path.exists(os.path.join(wl.DATA_DIR, "training_models.yaml"))


class TestClassifyOverrides:
    def _by_key(self, params, edition="3.0", division="closed"):
        return {e["key"]: e for e in wl.classify_overrides(params, edition, division)}

    def test_each_class(self):
        got = self._by_key({
            "reader.read_threads": "16",
            "dataset.format": "hdf5",
            "dataset.skip_listing": True,
            "workflow.checkpoint": False,
            "train.epochs": 3,
        })
        assert got["reader.read_threads"]["class"] == "closed" and got["reader.read_threads"]["allowed"]
        assert got["dataset.format"]["class"] == "open" and not got["dataset.format"]["allowed"]
        assert "mlperf_division: open" in got["dataset.format"]["message"]
        assert got["dataset.skip_listing"]["class"] == "tool"
        assert got["workflow.checkpoint"]["class"] == "tool"
        assert got["train.epochs"]["class"] == "invalid" and not got["train.epochs"]["allowed"]
        assert "INVALID" in got["train.epochs"]["message"]

    def test_open_key_allowed_in_open_and_whatif(self):
        for division in ("open", "whatif"):
            got = self._by_key({"reader.data_loader": "dali"}, division=division)
            assert got["reader.data_loader"]["class"] == "open" and got["reader.data_loader"]["allowed"]

    def test_tool_injected_keys_depend_on_edition(self):
        assert self._by_key({"dataset.skip_listing": 1}, edition="2.0")["dataset.skip_listing"]["class"] == "invalid"
        assert self._by_key({"storage.storage_options.prefetch_window": 4}, edition="2.0")[
            "storage.storage_options.prefetch_window"]["class"] == "invalid"

    def test_did_you_mean(self):
        got = self._by_key({"reader.read_thread": 8, "dataset.num_file_train": 10})
        assert "did you mean reader.read_threads?" in got["reader.read_thread"]["message"]
        assert "did you mean dataset.num_files_train?" in got["dataset.num_file_train"]["message"]
        far = self._by_key({"zzz": 1})["zzz"]["message"]
        assert "did you mean" not in far and "allowed in CLOSED:" in far

    def test_bad_input(self):
        with pytest.raises(wl.WorkloadError, match="mlperf_params must be a mapping"):
            wl.classify_overrides(["reader.read_threads=4"])
        with pytest.raises(wl.WorkloadError, match="mlperf_edition"):
            wl.classify_overrides({}, edition="1.0")


class TestMergeOverrides:
    def test_nested_and_typed(self):
        base = wl.load_workload("retinanet", "b200")
        merged = wl.merge_overrides(base, {
            "dataset.num_files_train": "17023000",
            "dataset.skip_listing": "True",
            "reader.read_threads": 15,
            "dataset.data_folder": "/mnt/mlp/retinanet",
            "storage.storage_options.prefetch_window": "4",
            "train.computation_time": "1e-3",
            "reader.file_shuffle": "off",
        })
        assert merged["dataset"]["num_files_train"] == 17023000
        assert merged["dataset"]["skip_listing"] is True
        assert merged["reader"]["read_threads"] == 15
        assert merged["dataset"]["data_folder"] == "/mnt/mlp/retinanet"
        assert merged["storage"] == {"storage_options": {"prefetch_window": 4}}
        assert merged["train"]["computation_time"] == 0.001
        assert merged["reader"]["file_shuffle"] == "off"  # a hydra string, not YAML 1.1 False
        assert base["dataset"]["num_files_train"] == 1170301  # input untouched

    @pytest.mark.parametrize("text,value", [
        ("12", 12), ("-3", -3), ("0.5", 0.5), (".5", 0.5), ("1e6", 1e6), ("TRUE", True), ("false", False),
        ("null", None), ("[1, 2]", [1, 2]), ("{a: 1}", {"a": 1}), ("seed", "seed"), ("yes", "yes"),
        ("'123'", "123"), ("/mnt/x", "/mnt/x"), ("1.2.3", "1.2.3"),
    ])
    def test_typed_value(self, text, value):
        assert wl.typed_value(text) == value
        assert type(wl.typed_value(text)) is type(value)

    def test_conflict_with_a_plain_value(self):
        with pytest.raises(wl.WorkloadError, match=r"override framework\.name: framework is a plain value"):
            wl.merge_overrides({"framework": "pytorch"}, {"framework.name": "x"})

    @pytest.mark.parametrize("key", ["", "a..b", ".a", "a.", "a. b"])
    def test_malformed_keys(self, key):
        with pytest.raises(wl.WorkloadError, match="not a dotted workload key"):
            wl.merge_overrides({}, {key: 1})


def test_workload_files_are_plain_yaml_mappings():
    for name in os.listdir(wl.WORKLOAD_DIR):
        with open(os.path.join(wl.WORKLOAD_DIR, name)) as handle:
            cfg = yaml.safe_load(handle)
        # checkpointing workloads (llama3_*) have no dataset
        needed = {"model", "framework", "workflow"} | (set() if name.startswith("llama3_") else {"dataset"})
        assert isinstance(cfg, dict) and needed <= set(cfg), name
