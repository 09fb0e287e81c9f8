# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""DLIO output readers, on logs and summaries captured from real runs (fixtures) and published ones (corpus)."""
import glob
import json
import os

import pytest

from ansible_collections.mlperf.storage.plugins.module_utils import _dlio_output as out

from _testpaths import CORPUS

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures", "dlio")


def _fixture(name):
    with open(os.path.join(FIXTURES, name)) as handle:
        return handle.read()


def _corpus_files(pattern):
    if not os.path.isdir(CORPUS):
        pytest.skip("published results corpus not found at %s (set MLPERF_CORPUS)" % CORPUS)
    found = sorted(glob.glob(os.path.join(CORPUS, pattern)))
    if not found:
        pytest.skip("no corpus file matches %s" % pattern)
    return found


class TestProgressPyPI:
    def test_finished_training_run(self):
        got = out.progress_from_log(_fixture("pypi-2.0.0_unet3d_run.dlio.log"), epochs=2)
        assert got["phase"] == "finished" and got["error"] is None
        assert (got["epoch"], got["epochs"], got["epochs_completed"]) == (2, 2, 2)
        assert (got["step"], got["steps_per_epoch"], got["processes"]) == (4, 4, 2)
        assert got["percent"] == 100.0
        summary = json.loads(_fixture("pypi-2.0.0_unet3d_run.summary.json"))
        # The [METRIC] block and summary.json are the same numbers (4 decimals in the log).
        assert got["metrics"]["Training Accelerator Utilization [AU] (%)"] == pytest.approx(
            summary["metric"]["train_au_mean_percentage"], abs=1e-4)
        assert got["metrics"]["Training Throughput (samples/second)"] == pytest.approx(
            summary["metric"]["train_throughput_mean_samples_per_second"], abs=1e-4)
        assert got["last_au_percentage"] == 93.481

    def test_progress_grows_line_by_line(self):
        lines = _fixture("pypi-2.0.0_unet3d_run.dlio.log").splitlines()
        seen = []
        for cut in range(1, len(lines) + 1):
            got = out.progress_from_log("\n".join(lines[:cut]), epochs=2)
            if got["percent"] is not None:
                seen.append(got["percent"])
            assert got["phase"] in (None, "starting", "training", "finished")
        assert seen == sorted(seen) and seen[-1] == 100.0 and 0.0 in seen
        mid = out.progress_from_log("\n".join(lines[:25]), epochs=2)
        assert (mid["phase"], mid["epoch"], mid["epochs_completed"], mid["step"]) == ("training", 2, 1, 2)
        assert mid["percent"] == 75.0

    def test_epoch_count_unknown_without_hint(self):
        got = out.progress_from_log(_fixture("pypi-2.0.0_unet3d_run.dlio.log"))
        assert got["epochs"] is None and got["phase"] == "finished"

    @pytest.mark.parametrize("name,total", [("pypi-2.0.0_unet3d_datagen.dlio.log", 8),
                                            ("pypi-2.0.0_resnet50_datagen.dlio.log", 4)])
    def test_datagen(self, name, total):
        lines = _fixture(name).splitlines()
        done = out.progress_from_log("\n".join(lines))
        assert done["phase"] == "datagen_done"
        assert done["files_written"] == done["files_total"] == total
        partial = out.progress_from_log("\n".join(lines[:-1]))
        assert partial["phase"] == "datagen"
        assert partial["files_total"] == total and 0 < partial["files_written"] < total

    def test_failure_is_reported(self):
        lines = _fixture("pypi-2.0.0_unet3d_run.dlio.log").splitlines()[:12]
        lines += ["Traceback (most recent call last):", '  File "main.py", line 1, in <module>',
                  "Exception: Not enough training dataset is found"]
        got = out.progress_from_log("\n".join(lines), epochs=2)
        assert got["phase"] == "failed"
        assert got["error"] == "Traceback (most recent call last):"

    def test_empty_text(self):
        got = out.progress_from_log("")
        assert got["phase"] is None and got["percent"] is None


class TestProgressMLPerf:
    def test_published_training_logs(self):
        checked = 0
        for path in _corpus_files("*/*/results/*/training/*/run/*/dlio.log"):
            with open(path) as handle:
                got = out.progress_from_log(handle.read())
            if got["epoch"] is None:
                continue  # some published logs are cut to their head and tail
            checked += 1
            assert got["phase"] == "finished", path
            assert got["epochs"] in (5, 8), path
            assert got["epochs_completed"] == got["epochs"], path
        assert checked >= 2

    def test_published_log_prefix_is_in_progress(self):
        path = _corpus_files("closed/HolmesAI/results/*/training/retinanet/run/20260713_090822/dlio.log")[0]
        with open(path) as handle:
            lines = handle.read().splitlines()
        cut = next(i for i, l in enumerate(lines) if "Starting epoch 4:" in l) + 2
        got = out.progress_from_log("\n".join(lines[:cut]))
        assert (got["phase"], got["epoch"], got["epochs"], got["epochs_completed"]) == ("training", 4, 8, 3)
        assert got["steps_per_epoch"] == 35464 and got["percent"] == 37.5

    def test_published_datagen_log(self):
        path = _corpus_files("closed/Alluxio/results/*/training/unet3d/datagen/*/dlio.log")[0]
        with open(path) as handle:
            text = handle.read()
        assert out.progress_from_log(text)["phase"] == "finished"
        head = text.split("Generation done")[0]
        assert out.progress_from_log(head)["phase"] == "datagen"


def test_module_utils_uses_only_the_standard_library():
    import ast
    import sys

    path = out.__file__
    tree = ast.parse(open(path).read())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    stdlib = getattr(sys, "stdlib_module_names", None)
    if stdlib is None:
        pytest.skip("needs Python 3.10+ to list the standard library")
    assert names <= set(stdlib) | {"__future__"}, names - set(stdlib)
