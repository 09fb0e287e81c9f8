# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""mlperf.storage.engine_config writes the engine's workload files on a host in one task: only what it is given,
only inside its directory, unchanged files left alone."""
import json
import os

import pytest
import yaml

from ansible.module_utils.testing import patch_module_args
from ansible_collections.mlperf.storage.plugins.modules import engine_config
from test_training_plan import make_req
from ansible_collections.mlperf.storage.plugins.plugin_utils._training_plan import plan_training


def run_module(args, capsys, check_mode=False):
    if check_mode:
        args = dict(args, _ansible_check_mode=True)
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            engine_config.main()
    return json.loads(capsys.readouterr().out)


def test_writes_the_files_then_changes_nothing(tmp_path, capsys):
    base = tmp_path / "cfg"
    files = {"workload/a.yaml": "model: a\n", "workload/b.yaml": "model: b\n"}
    first = run_module({"dir": str(base), "files": files}, capsys)
    assert first["changed"] and sorted(first["written"]) == [str(base / "workload/a.yaml"), str(base / "workload/b.yaml")]
    assert (base / "workload" / "a.yaml").read_text() == "model: a\n"
    assert oct(os.stat(base / "workload" / "b.yaml").st_mode & 0o777) == "0o644"
    second = run_module({"dir": str(base), "files": files}, capsys)
    assert not second["changed"] and second["written"] == []


def test_a_changed_file_is_replaced_and_others_are_left_alone(tmp_path, capsys):
    base = tmp_path / "cfg"
    (base / "workload").mkdir(parents=True)
    (base / "workload" / "a.yaml").write_text("old\n")
    (base / "other.txt").write_text("not ours\n")
    result = run_module({"dir": str(base), "files": {"workload/a.yaml": "new\n"}}, capsys)
    assert result["written"] == [str(base / "workload" / "a.yaml")]
    assert (base / "workload" / "a.yaml").read_text() == "new\n"
    assert (base / "other.txt").read_text() == "not ours\n"


def test_check_mode_writes_nothing_but_says_what_would_change(tmp_path, capsys):
    base = tmp_path / "cfg"
    result = run_module({"dir": str(base), "files": {"workload/a.yaml": "x\n"}}, capsys, check_mode=True)
    assert result["changed"] and not base.exists()


@pytest.mark.parametrize("name", ["../escape.yaml", "/etc/passwd", "workload/../../x.yaml"])
def test_a_name_outside_the_directory_is_refused(tmp_path, capsys, name):
    base = tmp_path / "cfg"
    result = run_module({"dir": str(base), "files": {name: "x\n"}}, capsys)
    assert result["failed"] and "is not a file name inside %s" % base in result["msg"]
    assert not (tmp_path / "escape.yaml").exists() and not (tmp_path / "x.yaml").exists()


def test_the_training_plan_gives_the_workload_files_its_commands_name():
    plan = plan_training(make_req())
    assert plan["errors"] == []
    names = sorted("workload/%s.yaml" % plan["commands"][phase]["workload_name"] for phase in ("run", "datagen"))
    assert sorted(plan["config_files"]) == names
    for phase in ("run", "datagen"):
        command = plan["commands"][phase]
        text = plan["config_files"]["workload/%s.yaml" % command["workload_name"]]
        assert yaml.safe_load(text) == command["workload"]
        assert "--config-dir=%s" % plan["config_dir"] in " ".join(command["argv"])
