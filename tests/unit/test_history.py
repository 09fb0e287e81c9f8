# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The history of a results tree (plugin_utils/_history.py): records, secrets, reruns, reading back."""
import datetime
import json
import os
import re

import pytest

from ansible_collections.mlperf.storage.plugins.plugin_utils import _history

NOW = datetime.datetime(2026, 12, 5, 8, 0, 0, tzinfo=datetime.timezone.utc)


def record(tree, **kw):
    args = dict(benchmark="training", variables={"mlperf_model": "unet3d", "mlperf_runs": 2,
                                                 "vectordb_api_key": "k3y", "mlperf_become_password": "pw"},
                hosts=["c1", "c2"], run_dirs=[str(tree / "closed/o/results/s/training/unet3d/run/20261205_080000"),
                                              "closed/o/results/s/training/unet3d/datagen/20261205_075900"],
                verdict="CLOSED", outcome="completed", started="2026-12-05T07:58:00Z",
                inventory=["/srv/inv/hosts.yml"], now=NOW)
    args.update(kw)
    return _history.append(str(tree), **args)


def test_a_record_keeps_the_interface_and_leaves_secrets_out(tmp_path):
    rec = record(tmp_path)
    folder = tmp_path / _history.HISTORY_DIR
    assert sorted(p.name for p in folder.iterdir()) == [rec["id"] + ".json", rec["id"] + ".vars.json"]
    assert rec["id"].startswith("20261205_080000_training_") and _history.ID_RE.match(rec["id"])
    written = json.loads((folder / (rec["id"] + ".json")).read_text())
    assert written == rec
    assert written["playbook"] == "mlperf.storage.run_training"
    assert written["variables"] == {"mlperf_model": "unet3d", "mlperf_runs": 2}
    assert written["omitted_secrets"] == ["mlperf_become_password", "vectordb_api_key"]
    assert "k3y" not in (folder / (rec["id"] + ".json")).read_text()
    assert json.loads((folder / (rec["id"] + ".vars.json")).read_text()) == {"mlperf_model": "unet3d", "mlperf_runs": 2}
    # run directories are recorded inside the tree, whether given absolute or already relative
    assert written["run_dirs"] == ["closed/o/results/s/training/unet3d/run/20261205_080000",
                                   "closed/o/results/s/training/unet3d/datagen/20261205_075900"]
    assert written["collection_version"] == _history.collection_version() != "unknown"


def test_the_rerun_command_names_the_playbook_the_inventory_the_vars_file_and_the_secrets_to_pass(tmp_path):
    rec = record(tmp_path)
    vars_file = tmp_path / _history.HISTORY_DIR / (rec["id"] + ".vars.json")
    assert rec["rerun"] == ("ansible-playbook mlperf.storage.run_training -i /srv/inv/hosts.yml -e @%s"
                            "  # and pass again: mlperf_become_password, vectordb_api_key" % vars_file)
    plain = record(tmp_path, variables={"mlperf_model": "unet3d"}, inventory=["inv with space"])
    assert plain["rerun"].startswith("ansible-playbook mlperf.storage.run_training -i 'inv with space' -e @")
    assert "pass again" not in plain["rerun"]


def test_records_are_never_rewritten_and_two_in_one_second_differ(tmp_path):
    first, second = record(tmp_path), record(tmp_path)
    assert first["id"] != second["id"]
    with pytest.raises(FileExistsError):
        _history._write_new(str(tmp_path / _history.HISTORY_DIR / (first["id"] + ".json")), {"id": "x"})
    assert json.loads((tmp_path / _history.HISTORY_DIR / (first["id"] + ".json")).read_text()) == first
    assert not [p for p in (tmp_path / _history.HISTORY_DIR).iterdir() if ".tmp-" in p.name]


def test_reading_back_orders_entries_skips_vars_files_and_names_broken_ones(tmp_path):
    older = record(tmp_path, now=NOW - datetime.timedelta(hours=1), benchmark="vector_database")
    newer = record(tmp_path)
    (tmp_path / _history.HISTORY_DIR / "notes.json").write_text("{not json")
    records, problems = _history.read(str(tmp_path))
    assert [r["id"] for r in records] == [older["id"], newer["id"]]
    assert records[0]["playbook"] == "mlperf.storage.run_vectordb"
    assert len(problems) == 1 and "notes.json" in problems[0]
    assert _history.find(records, "1") == newer and _history.find(records, 2) == older
    assert _history.find(records, older["id"]) == older
    lines = _history.lines(records)
    assert lines[1].startswith(newer["id"]) and "mlperf.storage.run_training" in lines[1]
    assert "CLOSED" in lines[1] and "2 run dir(s) on c1, c2" in lines[1]
    assert _history.read(str(tmp_path / "nowhere")) == ([], [])


@pytest.mark.parametrize("wanted, message", [
    ("3", "the history has 2 entries; give 1 (the newest) to 2, or an id"),
    ("0", "the history has 2 entries"),
    ("20990101_000000_training_abcdef", "no history entry '20990101_000000_training_abcdef'"),
])
def test_an_entry_that_is_not_there_is_named_with_the_fix(tmp_path, wanted, message):
    record(tmp_path)
    record(tmp_path)
    records, _ = _history.read(str(tmp_path))
    with pytest.raises(_history.HistoryError, match=re.escape(message)):
        _history.find(records, wanted)


def test_unknown_benchmark_and_unwritable_tree_are_history_errors(tmp_path):
    with pytest.raises(_history.HistoryError, match="unknown benchmark 'dlrm'"):
        record(tmp_path, benchmark="dlrm")
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(_history.HistoryError, match="cannot create"):
        record(blocker)


def test_collection_version_prefers_the_installed_manifest(tmp_path):
    (tmp_path / "MANIFEST.json").write_text(json.dumps({"collection_info": {"version": "1.2.3"}}))
    assert _history.collection_version(str(tmp_path)) == "1.2.3"
    assert _history.collection_version(str(tmp_path / "none")) == "unknown"


def test_interface_variables_are_what_the_roles_declare():
    names = _history.interface_variables()
    assert {"mlperf_model", "mlperf_runs", "mlperf_clients_group", "training_telemetry"} <= names
    # facts and plans the roles make are not part of the interface
    assert "training_plan" not in names and "run_phase_leaf" not in names
    assert os.path.isdir(os.path.join(_history.COLLECTION_ROOT, "roles"))
