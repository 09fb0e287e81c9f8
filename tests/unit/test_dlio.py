# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The DLIO engine adapter: generation detection, key translation/refusal, hydra command line."""
import copy

import pytest

from ansible_collections.mlperf.storage.plugins.plugin_utils import _dlio as dlio
from ansible_collections.mlperf.storage.plugins.plugin_utils import _workloads as wl

ALL_PAIRS = [(m, a, e) for e in wl.editions() for m, by in wl.edition_rules(e)["pairs"].items() for a in by]
# Parquet workloads (flux) need the v3.0 engine: the earlier generations do not read a parquet dataset.
PARQUET_PAIRS = [p for p in ALL_PAIRS if wl.load_workload(*p)["dataset"].get("format") == "parquet"]
OTHER_PAIRS = [p for p in ALL_PAIRS if p not in PARQUET_PAIRS]


class TestDetectGeneration:
    @pytest.mark.parametrize("version,source,expected", [
        ("2.0.0", "pypi", dlio.PYPI),
        ("2.0.0", "PyPI", dlio.PYPI),
        ("2.0.0", "git+https://github.com/argonne-lcf/dlio_benchmark@mlperf_storage_v2.0", dlio.MLPERF_V2),
        ("2.0.0", "git+https://github.com/argonne-lcf/dlio_benchmark@392621b", dlio.MLPERF_V2),
        ("3.0.0", "git+https://github.com/mlcommons/DLIO_local_changes@cbe2001", dlio.MLPERF_V3),
        ("3.0.2", "https://github.com/mlcommons/DLIO_local_changes.git", dlio.MLPERF_V3),
        ("2.0.0", "git+https://github.com/argonne-lcf/dlio_benchmark@v2.0.0", dlio.PYPI),
        ("3.0.2", "", dlio.MLPERF_V3),
    ])
    def test_known(self, version, source, expected):
        assert dlio.detect_generation(version, source) == expected

    def test_same_version_different_code_needs_the_source(self):
        with pytest.raises(dlio.EngineError) as err:
            dlio.detect_generation("2.0.0", "")
        assert "cannot tell which DLIO generation" in str(err.value)
        assert "mlperf_env_profile: submission" in str(err.value)

    def test_other_pypi_versions_are_refused(self):
        with pytest.raises(dlio.EngineError, match="dlio-benchmark 2.0.1 from PyPI is not a supported engine"):
            dlio.detect_generation("2.0.1", "pypi")

    def test_unknown_git_source(self):
        with pytest.raises(dlio.EngineError, match="git\\+https://example.org/fork"):
            dlio.detect_generation("2.1.0", "git+https://example.org/fork")


class TestAdaptMLPerfTemplates:
    @pytest.mark.parametrize("generation, pairs", [(dlio.MLPERF_V2, OTHER_PAIRS), (dlio.MLPERF_V3, ALL_PAIRS)])
    def test_mlperf_generations_take_the_templates_unchanged(self, generation, pairs):
        for model, accel, edition in pairs:
            self._check_unchanged(generation, model, accel, edition)

    @staticmethod
    def _check_unchanged(generation, model, accel, edition):
        config = wl.load_workload(model, accel, edition)
        result = dlio.adapt_workload(config, generation)
        assert result.refusals == []
        # Only the model size of non-checkpointing unet3d runs is dropped or carried over.
        expected = copy.deepcopy(config)
        size = expected["model"].pop("model_size", None)
        if size is not None and expected["workflow"]["checkpoint"]:
            expected["model"]["model_size_bytes"] = size
        assert result.config == expected

    @pytest.mark.parametrize("generation", [dlio.MLPERF_V2, dlio.PYPI])
    @pytest.mark.parametrize("model,accel,edition", PARQUET_PAIRS)
    def test_earlier_generations_refuse_parquet_workloads_by_key(self, generation, model, accel, edition):
        result = dlio.adapt_workload(wl.load_workload(model, accel, edition), generation)
        keys = {r["key"] for r in result.refusals}
        assert "dataset.parquet.columns" in keys
        assert ("dataset.format" in keys) == (generation == dlio.PYPI)

    @pytest.mark.parametrize("model,accel,edition", OTHER_PAIRS)
    def test_pypi_adapts_every_template(self, model, accel, edition):
        config = wl.load_workload(model, accel, edition)
        result = dlio.adapt_workload(config, dlio.PYPI)
        assert result.ok, result.error_message()
        cfg = result.config
        assert cfg["model"] == model
        dataset = cfg["dataset"]
        assert "record_length_bytes" not in dataset
        assert dataset["record_length"] == config["dataset"]["record_length_bytes"]
        assert dataset.get("record_length_stdev") == config["dataset"].get("record_length_bytes_stdev")
        assert dataset.get("record_length_resize") == config["dataset"].get("record_length_bytes_resize")
        moved = {(t["from"], t["to"]) for t in result.translations}
        assert ("dataset.record_length_bytes", "dataset.record_length") in moved
        assert ("model.name", "model") in moved
        assert cfg["metric"]["au"] == config["metric"]["au"]  # 2.0.0 compares AU against metric.au itself
        assert config["dataset"]["record_length_bytes"]  # the input is not modified

    def test_pypi_keeps_the_unet3d_checkpoint_size_when_checkpointing(self):
        result = dlio.adapt_workload(wl.load_workload("unet3d", "h100", "2.0"), dlio.PYPI)
        assert result.config["checkpoint"]["model_size"] == 499153191
        assert {"from": "model.model_size", "to": "checkpoint.model_size"} in [
            {"from": t["from"], "to": t["to"]} for t in result.translations]

    def test_pypi_notes_the_unused_checkpoint_size(self):
        result = dlio.adapt_workload(wl.load_workload("unet3d", "b200"), dlio.PYPI)
        notes = {n["key"]: n for n in result.notes}
        assert notes["model.model_size"]["action"] == "dropped"
        assert "model_size" not in result.config.get("checkpoint", {})
        assert "model.type" in notes


def _adapt(config, generation=dlio.PYPI):
    return dlio.adapt_workload(config, generation)


def _refused(result):
    return {r["key"]: r for r in result.refusals}


class TestPyPIRefusals:
    def test_checkpoint_only_run_is_refused(self):
        cfg = {"model": {"name": "llama_8b", "type": "transformer", "num_layers": 32,
                         "parallelism": {"tensor": 1, "pipeline": 1, "zero_stage": 3}},
               "framework": "pytorch",
               "workflow": {"generate_data": False, "train": False, "checkpoint": True},
               "checkpoint": {"checkpoint_folder": "/ckpt", "time_between_checkpoints": 5,
                              "num_checkpoints_write": 10, "num_checkpoints_read": 10, "fsync": True,
                              "mode": "subset"}}
        result = _adapt(cfg)
        refused = _refused(result)
        assert "silent no-op" in refused["workflow.checkpoint"]["reason"]
        for key in ("checkpoint.time_between_checkpoints", "checkpoint.num_checkpoints_write",
                    "checkpoint.num_checkpoints_read", "checkpoint.fsync", "checkpoint.mode",
                    "model.num_layers", "model.parallelism.tensor", "model.parallelism.zero_stage"):
            assert key in refused, key
            assert refused[key]["fix"].startswith("set mlperf_env_profile: submission")
        assert not result.ok
        assert "workflow.checkpoint:" in result.error_message()
        # The same config is fine for the MLPerf engines.
        assert _adapt(cfg, dlio.MLPERF_V3).refusals == []
        assert _adapt(cfg, dlio.MLPERF_V2).refusals == []

    def test_odirect(self):
        base = wl.load_workload("unet3d", "b200")
        on = wl.merge_overrides(base, {"reader.odirect": "true"})
        assert "O_DIRECT" in _refused(_adapt(on))["reader.odirect"]["reason"]
        off = _adapt(wl.merge_overrides(base, {"reader.odirect": False}))
        assert off.ok and "odirect" not in off.config["reader"]
        assert [n["key"] for n in off.notes if n["key"] == "reader.odirect"]
        assert _adapt(on, dlio.MLPERF_V3).ok

    def test_metric_step_exclusion(self):
        base = wl.load_workload("retinanet", "b200")
        one = _adapt(wl.merge_overrides(base, {"output.metric.exclude_start_steps": 1}))
        assert one.ok and "output" not in one.config
        assert "counts it in throughput" in {n["key"]: n for n in one.notes}["output.metric.exclude_start_steps"]["note"]
        three = _adapt(wl.merge_overrides(base, {"output.metric.exclude_start_steps": 3}))
        assert "exactly one start step" in _refused(three)["output.metric.exclude_start_steps"]["reason"]
        end = _adapt(wl.merge_overrides(base, {"output.metric.exclude_end_steps": 2}))
        assert "output.metric.exclude_end_steps" in _refused(end)
        assert _adapt(wl.merge_overrides(base, {"output.metric.exclude_end_steps": 0})).ok

    def test_pin_memory(self):
        base = wl.load_workload("retinanet", "b200")
        assert _adapt(wl.merge_overrides(base, {"reader.pin_memory": True})).ok
        assert "reader.pin_memory" in _refused(_adapt(wl.merge_overrides(base, {"reader.pin_memory": False})))

    def test_timing_mappings_are_split(self):
        cfg = wl.merge_overrides(wl.load_workload("retinanet", "b200"),
                                 {"train.computation_time": "{mean: 0.05, stdev: 0.01}"})
        result = _adapt(cfg)
        assert result.ok
        assert result.config["train"]["computation_time"] == 0.05
        assert result.config["train"]["computation_time_stdev"] == 0.01
        bad = _adapt(wl.merge_overrides(cfg, {"train.computation_time": "{mean: 1, type: normal}"}))
        assert "train.computation_time" in _refused(bad)

    def test_object_storage_and_new_formats(self):
        cfg = wl.merge_overrides(wl.load_workload("unet3d", "b200"), {
            "storage.storage_type": "direct_fs", "storage.storage_options.prefetch_window": 4,
            "dataset.format": "parquet"})
        refused = _refused(_adapt(cfg))
        assert "direct_fs" in refused["storage.storage_type"]["reason"]
        assert "parquet" in refused["dataset.format"]["reason"]
        assert "mlperf-v3.0 reads it" in refused["storage.storage_options.prefetch_window"]["fix"]
        v2 = _refused(_adapt(cfg, dlio.MLPERF_V2))
        assert "storage.storage_options.prefetch_window" in v2
        assert "storage.storage_options.prefetch_window" not in _refused(_adapt(cfg, dlio.MLPERF_V3))

    def test_conflicting_names(self):
        cfg = wl.merge_overrides(wl.load_workload("unet3d", "b200"), {"dataset.record_length": 4096})
        refused = _refused(_adapt(cfg))
        assert "disagree" in refused["dataset.record_length_bytes"]["reason"]
        same = wl.merge_overrides(wl.load_workload("unet3d", "b200"), {"dataset.record_length": 146600628})
        assert _adapt(same).ok


class TestUnreadKeys:
    def test_typo_gets_a_suggestion(self):
        cfg = wl.merge_overrides(wl.load_workload("unet3d", "b200"), {"reader.read_thread": 8})
        for generation in dlio.GENERATIONS:
            refused = _refused(_adapt(cfg, generation))
            assert refused["reader.read_thread"]["fix"] == "did you mean reader.read_threads?"
            assert "would run as if the key were absent" in refused["reader.read_thread"]["reason"]

    def test_unknown_key_without_suggestion(self):
        cfg = wl.merge_overrides(wl.load_workload("unet3d", "b200"), {"dataset.zzz": 1})
        assert _refused(_adapt(cfg, dlio.MLPERF_V3))["dataset.zzz"]["fix"].startswith("remove it")

    def test_bookkeeping_keys_are_noted_where_not_read(self):
        cfg = wl.merge_overrides(wl.load_workload("retinanet", "b200"), {
            "dataset.skip_listing": True, "dataset.listing_validation_interval": 1000,
            "dataset.total_disk_bytes": 123})
        v3 = _adapt(cfg, dlio.MLPERF_V3)
        assert v3.ok and v3.config["dataset"]["skip_listing"] is True
        assert [n["key"] for n in v3.notes] == ["dataset.total_disk_bytes"]
        pypi = _adapt(cfg)
        assert pypi.ok and "skip_listing" not in pypi.config["dataset"]
        assert {n["key"] for n in pypi.notes} >= {"dataset.skip_listing", "dataset.listing_validation_interval"}

    def test_mlperf_generation_reads_plain_names_as_bytes_names(self):
        cfg = {"framework": "pytorch", "model": "unet3d", "dataset": {"record_length": 1024, "format": "npz"},
               "workflow": {"train": True}}
        result = _adapt(cfg, dlio.MLPERF_V2)
        assert result.ok
        assert result.config["dataset"] == {"record_length_bytes": 1024, "format": "npz"}
        assert result.config["model"] == {"name": "unet3d"}

    def test_2_0_0_only_keys_are_refused_on_mlperf(self):
        cfg = wl.merge_overrides(wl.load_workload("unet3d", "b200"), {"checkpoint.num_layers": 4})
        refused = _refused(_adapt(cfg, dlio.MLPERF_V3))
        assert "pypi-2.0.0 reads it" in refused["checkpoint.num_layers"]["fix"]
        assert _adapt(cfg).ok

    def test_empty_known_sections_are_harmless(self):
        cfg = dict(wl.load_workload("retinanet", "b200"), storage={}, evaluation=None)
        for generation in dlio.GENERATIONS:
            assert _adapt(cfg, generation).ok
        assert "nonsense" in _refused(_adapt(dict(cfg, nonsense={})))

    def test_bad_arguments(self):
        with pytest.raises(dlio.EngineError, match="unknown DLIO generation 'v9'"):
            dlio.adapt_workload({}, "v9")
        with pytest.raises(dlio.EngineError, match="must be a mapping"):
            dlio.adapt_workload("workload: x", dlio.PYPI)


def test_translate_overrides_follows_the_adaptation():
    params = {"dataset.record_length_bytes": 4096, "dataset.num_files_train": 8, "dataset.skip_listing": True,
              "train.computation_time": {"mean": 0.1, "stdev": 0.01}}
    cfg = wl.merge_overrides(wl.load_workload("unet3d", "b200"), params)
    result = dlio.adapt_workload(cfg, dlio.PYPI)
    assert dlio.translate_overrides(params, result) == {
        "dataset.record_length": 4096, "dataset.num_files_train": 8,
        "train.computation_time": 0.1, "train.computation_time_stdev": 0.01}


class TestHydraArgv:
    def test_shape(self):
        argv = dlio.hydra_argv("/venv/bin/dlio_benchmark", "unet3d_b200", "/results/run/20260101_000000",
                               "/cfg", {"dataset.num_files_train": 56000, "dataset.data_folder": "/mnt/data/unet3d",
                                        "reader.odirect": True})
        assert argv == [
            "/venv/bin/dlio_benchmark", "workload=unet3d_b200", "++hydra.run.dir=/results/run/20260101_000000",
            "++hydra.output_subdir=dlio_config", "++workload.dataset.num_files_train=56000",
            "++workload.dataset.data_folder=/mnt/data/unet3d", "++workload.reader.odirect=true",
            "--config-dir=/cfg"]

    def test_bad_key_and_value(self):
        with pytest.raises(wl.WorkloadError, match="not a dotted workload key"):
            dlio.hydra_argv("dlio", "w", "/r", "/c", {"a..b": 1})
        with pytest.raises(dlio.EngineError, match="interpolation"):
            dlio.hydra_argv("dlio", "w", "/r", "/c", {"a": "${oc.env:HOME}"})
        with pytest.raises(dlio.EngineError, match="cannot pass a set value"):
            dlio.hydra_argv("dlio", "w", "/r", "/c", {"a": {1, 2}})

    ROUND_TRIP = [0, 7, -3, 10 ** 12, 0.04755, 114660.07, 1e-05, 2.5e20, True, False, None, "seed", "off", "yes",
                  "True", "null", "123", "1.5", "1_000", "/mnt/data/unet3d", "/mnt/with space/x", "it's", "a\\b",
                  "a\\'b", "tail\\", "", "s3://bucket/prefix", "a=b", "a,b", "[x]", "-lead", "inf", "nan", [1, 2, 3],
                  ["a", "b c"], {"mean": 0.05, "stdev": 0.01}, float("inf")]

    @pytest.mark.parametrize("value", ROUND_TRIP, ids=repr)
    def test_round_trip_through_hydra(self, value):
        parser_mod = pytest.importorskip("hydra.core.override_parser.overrides_parser")
        parser = parser_mod.OverridesParser.create()
        argv = dlio.hydra_argv("dlio", "w", "/r", "/c", {"dataset.value": value})
        override = parser.parse_override(argv[4])
        assert override.key_or_group == "workload.dataset.value"
        parsed = override.value()
        assert parsed == value and type(parsed) is type(value)
        run_dir = parser.parse_override(dlio.hydra_argv("dlio", "w", "/tmp/a b/it's", "/c", {})[2])
        assert run_dir.value() == "/tmp/a b/it's"
