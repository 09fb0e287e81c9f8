# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A dataset folder holding files the collection did not generate is refused before anything runs.

playbooks/run_training.yml runs for real on localhost (the tiny environment of test_bad_input: preflight and the
plan pass in seconds) with <mlperf_data_dir>/unet3d holding a dataset made elsewhere: no manifest of this
collection, or a manifest file another tool wrote. The play stops at the dataset check with one message naming
the host, the folder, what it holds and the opt-in variable; the foreign files are still there byte for byte,
no run directory was created and no engine configuration was written.
"""
import os

import pytest

from test_bad_input import (TRACEBACK, base_vars, localhost_inventory, run_playbook, snapshot,  # noqa: F401
                            tiny_env)

pytestmark = [pytest.mark.integration, pytest.mark.reliability]


def foreign_dataset(data, manifest=None):
    folder = data / "unet3d"
    (folder / "train").mkdir(parents=True)
    for n in range(3):
        (folder / "train" / ("img_%d_of_3.npz" % n)).write_bytes(os.urandom(2048 + n))
    (folder / "valid").mkdir()
    (folder / "valid" / "img_0_of_1.npz").write_bytes(os.urandom(512))
    if manifest is not None:
        (folder / ".mlperf-dataset.json").write_text(manifest)
    return folder


def play_vars(tiny_env, dirs):
    # the tiny environment names the PyPI DLIO generation, whose runs the plan calls INVALID: allowed here, so the
    # play reaches the dataset check
    return dict(base_vars(tiny_env, dirs), mlperf_allow_invalid=True)


def run_dirs(results):
    """Every directory below results named like a run directory (YYYYMMDD_HHMMSS)."""
    return [p for p in results.rglob("*") if p.is_dir() and len(p.name) == 15 and p.name[8] == "_"
            and p.name.replace("_", "").isdigit()]


@pytest.mark.parametrize("manifest", [None, '{"train_files": 3}\n'], ids=["no-manifest", "alien-manifest"])
def test_a_foreign_dataset_is_refused_and_left_alone(tmp_path, tiny_env, dirs, manifest):
    folder = foreign_dataset(dirs["data"], manifest)
    before = snapshot(dirs["data"])
    inventory = localhost_inventory(tmp_path, play_vars(tiny_env, dirs))
    rc, out = run_playbook(tmp_path, "run_training.yml", inventory)
    assert rc != 0, out[-3000:]
    assert TRACEBACK not in out
    for text in ("The dataset folder %s on localhost holds 4 files" % folder,
                 "no dataset manifest of this collection", "nothing was changed",
                 "Point mlperf_data_dir at an empty or new directory", "training_dataset_replace: true"):
        assert text in out, "%r not in the output:\n%s" % (text, out[-4000:])
    assert snapshot(dirs["data"]) == before, "the foreign dataset changed"
    assert run_dirs(dirs["results"]) == []
    assert not (dirs["work"] / "dlio_workloads").exists()
    assert "Run the data generation" not in out


def test_an_empty_data_folder_is_not_refused(tmp_path, tiny_env, dirs):
    """Empty directories are nobody's data: the play goes past the check (and fails later, at the engine, which
    the tiny environment does not have)."""
    (dirs["data"] / "unet3d" / "train").mkdir(parents=True)
    inventory = localhost_inventory(tmp_path, play_vars(tiny_env, dirs))
    rc, out = run_playbook(tmp_path, "run_training.yml", inventory)
    assert "training_dataset_replace" not in out, out[-4000:]
    assert "Generating the dataset" in out, out[-4000:]
    manifest = dirs["data"] / "unet3d" / ".mlperf-dataset.json"
    assert manifest.is_file() and '"kind": "mlperf.storage dataset"' in manifest.read_text()
