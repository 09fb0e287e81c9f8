# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The adapter against the real PyPI DLIO 2.0.0: a tiny embedded unet3d datagen + 2-epoch run on 2 ranks.

Runs in the engine venv MLPERF_DLIO_VENV when it is set, else in the embedded environment, which the embedded_env
fixture provisions when it is missing (a fresh machine runs these tests too). About 25 s.
"""
import json
import os
import subprocess

import pytest
import yaml

from ansible_collections.mlperf.storage.plugins.module_utils import _dlio_output as out
from ansible_collections.mlperf.storage.plugins.plugin_utils import _dlio as dlio
from ansible_collections.mlperf.storage.plugins.plugin_utils import _workloads as wl

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MIB = 1024 * 1024



@pytest.fixture
def engine_bin(request):
    """bin/ of the engine venv: MLPERF_DLIO_VENV, or the embedded environment (provisioned if missing)."""
    venv = os.environ.get("MLPERF_DLIO_VENV") or request.getfixturevalue("embedded_env")
    bin_dir = os.path.join(venv, "bin")
    for program in ("dlio_benchmark", "mpirun"):
        assert os.access(os.path.join(bin_dir, program), os.X_OK), "%s has no %s" % (venv, program)
    return bin_dir


def _launch(tmp_path, name, config, params, bin_dir):
    config_dir = tmp_path / "cfg"
    (config_dir / "workload").mkdir(parents=True, exist_ok=True)
    with open(config_dir / "workload" / ("%s.yaml" % name), "w") as handle:
        yaml.safe_dump(config, handle)
    run_dir = tmp_path / ("run_" + name)
    argv = dlio.hydra_argv(os.path.join(bin_dir, "dlio_benchmark"), name, str(run_dir), str(config_dir), params)
    env = dict(os.environ, PATH="%s:%s:%s" % (os.path.join(REPO, "roles", "python_env", "files"), bin_dir,
                                              os.environ.get("PATH", "")))
    # DLIO creates its checkpoint folder relative to the working directory even when it never checkpoints.
    result = subprocess.run([os.path.join(bin_dir, "mpirun"), "-np", "2"] + argv, env=env, capture_output=True,
                            text=True, timeout=300, cwd=str(tmp_path))
    assert result.returncode == 0, result.stderr[-3000:]
    return run_dir


def _sizes(folder):
    return [os.path.getsize(os.path.join(folder, n)) for n in sorted(os.listdir(folder))]


def test_tiny_unet3d_runs_adapted_on_2_0_0(tmp_path, engine_bin):
    data = tmp_path / "data" / "unet3d"
    tiny = {"dataset.num_files_train": 8, "dataset.record_length_bytes": MIB,
            "dataset.record_length_bytes_stdev": MIB // 4, "dataset.data_folder": str(data)}
    gen = dlio.adapt_workload(wl.merge_overrides(wl.load_datagen_workload("unet3d"), tiny), dlio.PYPI)
    assert gen.ok, gen.error_message()
    gen_dir = _launch(tmp_path, "unet3d_datagen", gen.config, dlio.translate_overrides(tiny, gen), engine_bin)
    sizes = _sizes(data / "train")
    assert len(sizes) == 8
    # Sample sides are drawn around sqrt(record length): the files average about the asked size.
    assert 0.8 * MIB < sum(sizes) / len(sizes) < 1.3 * MIB
    assert len(set(sizes)) > 1  # the stdev took effect
    with open(gen_dir / "dlio.log") as handle:
        assert out.progress_from_log(handle.read())["files_written"] == 8

    params = dict(tiny, **{"train.epochs": 2, "reader.batch_size": 1, "reader.read_threads": 2,
                           "train.computation_time": 0.05})
    run = dlio.adapt_workload(wl.merge_overrides(wl.load_workload("unet3d", "b200"), params), dlio.PYPI)
    assert run.ok, run.error_message()
    run_dir = _launch(tmp_path, "unet3d_b200", run.config, dlio.translate_overrides(params, run), engine_bin)
    with open(run_dir / "summary.json") as handle:
        summary = json.load(handle)
    assert len(summary["metric"]["train_au_percentage"]) == 2
    assert summary["num_accelerators"] == 2 and summary["num_files_train"] == 8
    # 8 files / (batch 1 x 2 ranks) = 4 steps per epoch; I/O rate is samples/s x the translated record length.
    metric = summary["metric"]
    assert metric["train_io_mean_MB_per_second"] == pytest.approx(
        metric["train_throughput_mean_samples_per_second"] * MIB / MIB)
    with open(run_dir / "dlio.log") as handle:
        progress = out.progress_from_log(handle.read(), epochs=2)
    assert progress["phase"] == "finished" and progress["steps_per_epoch"] == 4
    with open(run_dir / "dlio_config" / "overrides.yaml") as handle:
        recorded = yaml.safe_load(handle)
    assert "++workload.dataset.record_length=%d" % MIB in recorded
    assert not [o for o in recorded if "record_length_bytes" in o]
    with open(run_dir / "dlio_config" / "config.yaml") as handle:
        resolved = yaml.safe_load(handle)["workload"]
    assert resolved["dataset"]["record_length"] == MIB and resolved["model"] == "unet3d"


def test_unadapted_mlperf_keys_are_silently_ignored_by_2_0_0(tmp_path, engine_bin):
    """Why the adapter exists: 2.0.0 drops record_length_bytes and writes its 64 KiB default instead."""
    data = tmp_path / "data"
    raw = wl.merge_overrides(wl.load_datagen_workload("unet3d"), {
        "dataset.num_files_train": 2, "dataset.record_length_bytes": MIB, "dataset.record_length_bytes_stdev": 0,
        "dataset.data_folder": str(data)})
    _launch(tmp_path, "raw_datagen", raw, {}, engine_bin)
    sizes = _sizes(data / "train")
    assert len(sizes) == 2 and max(sizes) < 70 * 1024  # 256 x 256 bytes plus the npz wrapper
