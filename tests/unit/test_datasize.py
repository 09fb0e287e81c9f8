# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Datasize arithmetic: the worked examples of rules.md 3.4 / 4.7 and the published datasize leaves."""
import glob
import json
import os

import pytest

from ansible_collections.mlperf.storage.plugins.plugin_utils import _datasize as ds
from ansible_collections.mlperf.storage.plugins.plugin_utils import _workloads as wl

from _testpaths import CORPUS

GIB = 1024 ** 3


class TestWorkedExamples:
    def test_unet3d_is_step_bound(self):
        got = ds.training_datasize(256 * GIB, 8, 146600628, 1, 7, rounding="floor")
        assert got["files_by_memory"] == 9375
        assert got["files_by_steps"] == 28000
        assert got["required_files"] == 28000 and got["dominant"] == "steps"
        assert round(got["total_disk_bytes"] / GIB) == 3823
        assert got["required_subfolders"] == 0

    def test_retinanet_is_memory_bound(self):
        got = ds.training_datasize(256 * GIB, 8, 322957, 1, 24, rounding="floor")
        assert got["files_by_steps"] == 96000
        assert got["required_files"] == got["files_by_memory"] == 4255642
        assert got["dominant"] == "memory"
        assert got["total_disk_bytes"] == 4255642 * 322957

    def test_resnet50_h100_matches_readme(self):
        got = ds.training_datasize(64 * GIB, 16, 114660.07, 1251, 400, rounding="floor")
        assert (got["files_by_memory"], got["files_by_steps"], got["required_files"]) == (2395, 2557, 2557)

    def test_ceil_rounds_the_memory_term_up_only(self):
        floor = ds.training_datasize(256 * GIB, 8, 322957, 1, 24, rounding="floor")
        ceil = ds.training_datasize(256 * GIB, 8, 322957, 1, 24)
        assert ceil["files_by_memory"] == floor["files_by_memory"] + 1
        assert ceil["files_by_steps"] == floor["files_by_steps"]

    def test_exact_multiple_is_not_rounded_up(self):
        # 5 x 1 GiB of memory in 1 MiB files is exactly 5120 files under either rounding.
        for rounding in ("ceil", "floor"):
            got = ds.training_datasize(GIB, 1, 1024 * 1024, 1, 1, rounding=rounding)
            assert got["files_by_memory"] == 5120
            assert got["required_files"] == 5120 and got["dominant"] == "memory"

    def test_steps_use_integer_division_by_samples_per_file(self):
        got = ds.training_datasize(1, 3, 1, 7, 5)  # 500*3*5 = 7500 samples / 7 per file
        assert got["files_by_steps"] == 7500 // 7
        assert got["dominant"] == "steps"

    def test_subfolder_hint(self):
        assert ds.training_datasize(256 * GIB, 8, 146600628, 1, 7)["suggested_subfolders"] == 3
        assert ds.training_datasize(64 * GIB, 16, 114660.07, 1251, 400)["suggested_subfolders"] == 0


@pytest.mark.parametrize("kwargs,needle", [
    (dict(total_memory_bytes=0), "total_memory_bytes must be a positive integer, got 0"),
    (dict(num_accelerators=-1), "num_accelerators must be a positive integer"),
    (dict(num_accelerators=True), "num_accelerators must be a positive integer, got True"),
    (dict(record_length_bytes="1MiB"), "record_length_bytes must be a positive number, got '1MiB'"),
    (dict(record_length_bytes=float("nan")), "record_length_bytes must be a positive number"),
    (dict(samples_per_file=1.5), "samples_per_file must be a positive integer"),
    (dict(batch_size=None), "batch_size must be a positive integer, got None"),
    (dict(rounding="round"), "rounding must be 'ceil' or 'floor', got 'round'"),
])
def test_bad_inputs_are_named(kwargs, needle):
    args = dict(total_memory_bytes=GIB, num_accelerators=1, record_length_bytes=1024, samples_per_file=1,
                batch_size=1)
    args.update(kwargs)
    with pytest.raises(ds.DatasizeError) as err:
        ds.training_datasize(**args)
    assert needle in str(err.value)


def test_for_workload_uses_template_values_and_edition_rounding():
    v3 = ds.training_datasize_for_workload(wl.load_workload("retinanet", "b200"), 256 * GIB, 8, edition="3.0")
    assert v3["required_files"] == 4255643
    v2 = ds.training_datasize_for_workload(wl.load_workload("unet3d", "h100", "2.0"), 256 * GIB, 8, edition="2.0")
    assert v2["required_files"] == 28000
    with pytest.raises(ds.DatasizeError, match="record_length_bytes"):
        ds.training_datasize_for_workload({"dataset": {}}, GIB, 1)


def test_constants_and_rounding_come_from_the_edition():
    # retinanet_b200, 1 x 256 GiB, 8 accelerators: the memory term is 4255642.x files
    assert ds.training_datasize(256 * GIB, 8, 322957, 1, 24, edition="3.0")["files_by_memory"] == 4255643
    assert ds.training_datasize(256 * GIB, 8, 322957, 1, 24, edition="2.0")["files_by_memory"] == 4255642
    # explicit constants win over the edition's (500 steps, 5x memory)
    got = ds.training_datasize(GIB, 2, 1024 * 1024, 1, 3, steps_per_epoch=1000, memory_multiplier=2)
    assert (got["files_by_steps"], got["files_by_memory"]) == (6000, 2048)
    with pytest.raises(ds.DatasizeError, match="mlperf_edition: unknown rules edition '9.9'"):
        ds.training_datasize(GIB, 1, 1024, 1, 1, edition="9.9")


def _datasize_leaves():
    if not os.path.isdir(CORPUS):
        return []
    return sorted(glob.glob(os.path.join(CORPUS, "*", "*", "results", "*", "training", "*", "datasize", "*",
                                         "training_*_metadata.json")))


def test_reproduces_published_datasize_leaves():
    leaves = _datasize_leaves()
    if not leaves:
        pytest.skip("published results corpus not found at %s (set MLPERF_CORPUS)" % CORPUS)
    for path in leaves:
        with open(path) as handle:
            meta = json.load(handle)
        args, dataset = meta["args"], meta["parameters"]["dataset"]
        workload = wl.load_workload(args["model"], args["accelerator_type"])
        memory = int(args["client_host_memory_in_gb"] * args["num_client_hosts"] * GIB)
        # These v3.0 submissions were sized by a tool that floored the memory term.
        got = ds.training_datasize(memory, args["max_accelerators"], workload["dataset"]["record_length_bytes"],
                                   workload["dataset"]["num_samples_per_file"], workload["reader"]["batch_size"],
                                   rounding="floor")
        assert got["required_files"] == int(dataset["num_files_train"]), path
        assert got["total_disk_bytes"] == int(dataset["total_disk_bytes"]), path
        ceil = ds.training_datasize(memory, args["max_accelerators"], workload["dataset"]["record_length_bytes"],
                                    workload["dataset"]["num_samples_per_file"], workload["reader"]["batch_size"])
        assert ceil["required_files"] == got["required_files"] + 1


class TestCheckpointDatasize:
    @pytest.mark.parametrize("model,total", [("llama3-8b", 105), ("llama3-70b", 911), ("llama3-405b", 5288),
                                             ("llama3-1t", 17997)])
    def test_totals(self, model, total):
        got = ds.checkpoint_datasize(model, 8)
        assert got["total_gb"] == pytest.approx(total)
        assert len(got["per_rank_gb"]) == 8

    def test_zero3_splits_evenly(self):
        got = ds.checkpoint_datasize("llama3-8b", 8)
        assert got["zero_level"] == 3
        assert got["per_rank_gb"] == [pytest.approx(105 / 8)] * 8

    def test_zero1_puts_the_model_on_rank_zero(self):
        got = ds.checkpoint_datasize("llama3-405b", 512)
        assert got["zero_level"] == 1
        assert got["per_rank_gb"][0] == pytest.approx(755 + 4533 / 512)
        assert all(rank == pytest.approx(4533 / 512) for rank in got["per_rank_gb"][1:])

    def test_explicit_level_overrides_the_table(self):
        got = ds.checkpoint_datasize("llama3-8b", 4, zero_level=1)
        assert got["per_rank_gb"][0] == pytest.approx(15 + 90 / 4)

    def test_errors(self):
        with pytest.raises(ds.DatasizeError, match="mlperf_model: unknown checkpointing model 'llama2'"):
            ds.checkpoint_datasize("llama2", 8)
        with pytest.raises(ds.DatasizeError, match="num_processes must be a positive integer, got 0"):
            ds.checkpoint_datasize("llama3-8b", 0)
        with pytest.raises(ds.DatasizeError, match="zero_level must be 1 or 3"):
            ds.checkpoint_datasize("llama3-8b", 8, zero_level=2)
