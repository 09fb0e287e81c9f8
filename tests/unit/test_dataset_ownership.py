# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Who made the files in a dataset folder, and what the collection may do with them (module_utils._dataset):
only its own dataset (its manifest) is replaced without asking; files it did not generate are refused unless the
operator opts in; an empty folder is used as is."""
import json

import pytest

from ansible_collections.mlperf.storage.plugins.module_utils import _dataset

SPEC = {"model": "unet3d", "num_files_train": 4, "dataset": {"record_length_bytes": 10}}


def make_files(folder, files, size, sub="train", prefix="img"):
    (folder / sub).mkdir(parents=True, exist_ok=True)
    for n in range(files):
        (folder / sub / ("%s_%d.npz" % (prefix, n))).write_bytes(b"x" * size)


def test_a_missing_folder_and_empty_directories_are_nobodys(tmp_path):
    missing = _dataset.inspect_folder(str(tmp_path / "nothing"))
    assert missing["exists"] is False and missing["ownership"] == "none"
    folder = tmp_path / "unet3d"
    (folder / "train" / "deep").mkdir(parents=True)
    (folder / "valid").mkdir()
    found = _dataset.inspect_folder(str(folder))
    assert found["ownership"] == "none" and found["files"] == 0
    assert _dataset.decide(found, False)[0] == "generate"


def test_files_without_a_manifest_are_foreign_and_refused(tmp_path):
    folder = tmp_path / "unet3d"
    make_files(folder, 3, 7)
    (folder / "notes.txt").write_text("made by hand")
    found = _dataset.inspect_folder(str(folder))
    assert found["ownership"] == "foreign"
    assert found["files"] == 4 and found["bytes"] == 21 + len("made by hand")
    assert found["sample"][0] == "notes.txt" and "train/img_0.npz" in found["sample"]
    action, reason = _dataset.decide(found, False)
    assert action == "refuse" and "4 files" in reason and "no dataset manifest" in reason
    assert _dataset.decide(found, True)[0] == "replace"
    ok, reason, _ = _dataset.check_dataset(str(folder), SPEC, 4, found)
    assert not ok and "no dataset manifest of this collection" in reason


@pytest.mark.parametrize("content", ["not json", "[1, 2]", json.dumps({"spec": "elsewhere"}),
                                     json.dumps({"format": "npz", "files": 4})])
def test_a_manifest_not_written_by_the_collection_proves_nothing(tmp_path, content):
    folder = tmp_path / "unet3d"
    make_files(folder, 4, 10)
    (folder / ".mlperf-dataset.json").write_text(content)
    found = _dataset.inspect_folder(str(folder))
    assert found["ownership"] == "foreign" and found["files"] == 4  # the manifest itself is not counted
    assert _dataset.decide(found, False)[0] == "refuse"


def test_the_collections_own_dataset_is_regenerated_without_asking(tmp_path):
    folder = tmp_path / "unet3d"
    make_files(folder, 4, 10)
    _dataset.write_manifest(str(folder), SPEC, "/results/datagen/x")
    found = _dataset.inspect_folder(str(folder))
    assert found["ownership"] == "ours"
    assert _dataset.check_dataset(str(folder), SPEC, 4, found)[0] is True
    other = dict(SPEC, dataset={"record_length_bytes": 20})
    ok, reason, _ = _dataset.check_dataset(str(folder), other, 4, found)
    assert not ok and "dataset differ" in reason
    assert _dataset.decide(found, False)[0] == "generate"


def test_a_manifest_of_an_earlier_version_is_still_ours(tmp_path):
    folder = tmp_path / "unet3d"
    make_files(folder, 4, 10)
    (folder / ".mlperf-dataset.json").write_text(json.dumps(
        {"spec": SPEC, "train_files": 4, "train_bytes": 40, "generated_by": "/r/datagen/1", "written_at": "x"}))
    found = _dataset.inspect_folder(str(folder))
    assert found["ownership"] == "ours"
    assert _dataset.check_dataset(str(folder), SPEC, 4, found)[0] is True


def test_an_interrupted_generation_is_ours_and_never_reused(tmp_path):
    """The claim is written before the engine starts: files left by a killed datagen are still ours."""
    folder = tmp_path / "unet3d"
    _dataset.claim(str(folder), SPEC)
    make_files(folder, 2, 10)  # the engine died half way
    found = _dataset.inspect_folder(str(folder))
    assert found["ownership"] == "ours" and found["manifest"]["state"] == "generating"
    ok, reason, _ = _dataset.check_dataset(str(folder), SPEC, 4, found)
    assert not ok and "did not finish" in reason
    assert _dataset.decide(found, False)[0] == "generate"
    make_files(folder, 4, 10)
    manifest = _dataset.write_manifest(str(folder), SPEC, "/r/datagen/2")
    assert manifest["state"] == "complete" and manifest["kind"] == _dataset.MANIFEST_KIND
    assert _dataset.check_dataset(str(folder), SPEC, 4)[0] is True


def test_check_catches_count_and_size_changes_of_our_dataset(tmp_path):
    folder = tmp_path / "unet3d"
    make_files(folder, 4, 10)
    _dataset.write_manifest(str(folder), SPEC, "/r/datagen/1")
    (folder / "train" / "img_3.npz").unlink()
    ok, reason, _ = _dataset.check_dataset(str(folder), SPEC, 4)
    assert not ok and "holds 3 files, the plan needs 4" in reason
    (folder / "train" / "img_3.npz").write_bytes(b"x" * 9)
    ok, reason, _ = _dataset.check_dataset(str(folder), SPEC, 4)
    assert not ok and "39 bytes" in reason
