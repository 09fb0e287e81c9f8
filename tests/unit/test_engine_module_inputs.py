# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The engine starters (engine_run, engine_run_set) refuse what would mix two runs up before they start anything:
a status file that exists, a heartbeat timeout nothing would ever refresh, an identity too short to be unique."""
import json

import pytest

from ansible.module_utils.testing import patch_module_args
from ansible_collections.mlperf.storage.plugins.modules import engine_run, engine_run_set


def run_module(module, args, capsys):
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            module.main()
    return json.loads(capsys.readouterr().out)


def starter_args(module, tmp_path, **changes):
    marker = tmp_path / "started"
    args = {"argv": ["/bin/sh", "-c", "touch %s" % marker], "stdout": "out.log", "stderr": "err.log"}
    if module is engine_run:
        args.update(status_file=str(tmp_path / "status.json"), stdout=str(tmp_path / "out.log"),
                    stderr=str(tmp_path / "err.log"))
    else:
        args.update(base=str(tmp_path / "runs"), runs=1, set_status_file=str(tmp_path / "set.json"))
    args.update(changes)
    return args, marker


STATUS = {engine_run: "status_file", engine_run_set: "set_status_file"}
IDENTITY = {engine_run: "run_id", engine_run_set: "set_id"}
WATCHER = {engine_run: "engine_wait", engine_run_set: "engine_set_wait"}


@pytest.mark.parametrize("module", [engine_run, engine_run_set], ids=["engine_run", "engine_run_set"])
def test_an_existing_status_file_is_never_reused(module, tmp_path, capsys):
    args, marker = starter_args(module, tmp_path)
    with open(args[STATUS[module]], "w") as handle:
        handle.write('{"rc": 0}')
    result = run_module(module, args, capsys)
    assert result["failed"] and result["msg"].startswith("%s already exists: a run (or run set) never reuses"
                                                         % args[STATUS[module]])
    assert not marker.exists()
    with open(args[STATUS[module]]) as handle:
        assert handle.read() == '{"rc": 0}'


@pytest.mark.parametrize("module", [engine_run, engine_run_set], ids=["engine_run", "engine_run_set"])
def test_a_heartbeat_timeout_needs_the_file_its_watcher_touches(module, tmp_path, capsys):
    args, marker = starter_args(module, tmp_path, heartbeat_timeout=30)
    result = run_module(module, args, capsys)
    assert result["failed"] and result["msg"] == (
        "heartbeat_timeout is 30 but heartbeat_file is not set; give the file that %s touches, or set "
        "heartbeat_timeout: 0" % WATCHER[module])
    assert not marker.exists()


@pytest.mark.parametrize("module", [engine_run, engine_run_set], ids=["engine_run", "engine_run_set"])
def test_an_identity_too_short_to_be_unique_is_refused(module, tmp_path, capsys):
    args, marker = starter_args(module, tmp_path, **{IDENTITY[module]: "abc"})
    result = run_module(module, args, capsys)
    assert result["failed"] and result["msg"].startswith("%s 'abc' is too short to be unique" % IDENTITY[module])
    assert not marker.exists()
