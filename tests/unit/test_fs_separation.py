# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""fs_separation.json: the mountinfo parser on fixed text, the probe and the writer on real temporary
directories, the module in process (normal and check mode), and the record read back by the rules engine."""
import json
import os

import pytest

from ansible_collections.mlperf.storage.plugins.module_utils import _fs_separation as core
from ansible_collections.mlperf.storage.plugins.modules import fs_separation as module
from ansible_collections.mlperf.storage.plugins.plugin_utils.rules.checks.training import fs_separation_check
from ansible_collections.mlperf.storage.plugins.plugin_utils.rules.checks import Ctx
from ansible_collections.mlperf.storage.plugins.plugin_utils.rules.edition import load_edition
from ansible_collections.mlperf.storage.plugins.plugin_utils.rules.loader import Run

MOUNTINFO = """\
22 27 0:21 / /proc rw,relatime shared:13 - proc proc rw
27 1 259:2 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p2 rw,errors=remount-ro
30 27 0:45 / /mnt/data rw,relatime shared:20 master:3 - xfs /dev/nvme1n1 rw,attr2,inode64
31 27 0:46 / /mnt/results rw,relatime - nfs4 fileserver:/export/results rw,vers=4.2
32 27 0:50 /@data /srv/btrfs\\040data rw,relatime - btrfs /dev/sdb rw,subvolid=256
33 27 0:51 /@results /srv/btrfs-results rw,relatime - btrfs /dev/sdb rw,subvolid=257
34 30 0:60 / /mnt/data/stacked rw - tmpfs tmpfs rw
35 30 0:61 / /mnt/data/stacked rw - xfs /dev/nvme2n1 rw
40 27 0:70 / /scratch rw - tmpfs tmpfs rw
41 27 0:71 / /scratch2 rw - tmpfs tmpfs rw
42 27 0:7
"""


def test_parse_mountinfo_fields_optional_tags_escapes_and_a_cut_line():
    mounts = core.parse_mountinfo(MOUNTINFO)
    assert len(mounts) == 10  # the cut last line is skipped
    data = mounts[2]
    assert (data["mount_point"], data["fstype"], data["source"], data["major"], data["minor"]) == (
        "/mnt/data", "xfs", "/dev/nvme1n1", 0, 45)
    assert data["super_options"] == "rw,attr2,inode64"
    assert mounts[4]["mount_point"] == "/srv/btrfs data" and mounts[4]["root"] == "/@data"
    assert mounts[3]["source"] == "fileserver:/export/results"


def test_find_mount_longest_prefix_top_of_a_stack_and_device_preference():
    mounts = core.parse_mountinfo(MOUNTINFO)
    assert core.find_mount(mounts, "/mnt/data/train/x")["mount_point"] == "/mnt/data"
    assert core.find_mount(mounts, "/mnt/database")["mount_point"] == "/"  # a prefix of the name is not a parent
    assert core.find_mount(mounts, "/mnt/data/stacked/f")["fstype"] == "xfs"  # the last listed is on top
    assert core.find_mount(mounts, "/mnt/data/stacked/f", os.makedev(0, 60))["fstype"] == "tmpfs"
    assert core.find_mount(mounts, "/srv/btrfs data/a")["source"] == "/dev/sdb"
    assert core.find_mount([], "/x") is None


def _side(device, source=None, fstype=None, error=None):
    return {"device": device, "source": source, "fstype": fstype, "error": error}


def test_same_filesystem_by_device_or_by_shared_block_device():
    assert core.same_filesystem(_side(1), _side(1))[0] is True
    assert core.same_filesystem(_side(1, "/dev/sdb", "xfs"), _side(2, "/dev/sdc", "xfs"))[0] is False
    # btrfs subvolumes: own st_dev each, one filesystem
    same, reason = core.same_filesystem(_side(50, "/dev/sdb", "btrfs"), _side(51, "/dev/sdb", "btrfs"))
    assert same is True and "/dev/sdb" in reason
    # two tmpfs mounts share the source name "tmpfs" and are still different filesystems
    assert core.same_filesystem(_side(70, "tmpfs", "tmpfs"), _side(71, "tmpfs", "tmpfs"))[0] is False
    same, reason = core.same_filesystem(_side(None, error="cannot stat /x"), _side(2))
    assert same is None and "cannot stat /x" in reason


def test_record_on_real_directories_of_one_filesystem(tmp_path):
    data, results = tmp_path / "data", tmp_path / "results"
    data.mkdir()
    results.mkdir()
    record = core.build_record(str(data), str(results), core.read_mountinfo(), host="h1", now=0)
    assert record["same_filesystem"] is True
    assert record["data_device"] == record["results_device"] == os.stat(str(tmp_path)).st_dev
    assert record["data_or_chkpt_path"] == str(data) and record["results_path"] == str(results)
    assert record["data_or_chkpt_realpath"] == os.path.realpath(str(data))
    assert record["probed_at"] == "1970-01-01T00:00:00Z" and record["probed_by_host"] == "h1"
    assert record["version"] == 1 and record["method"] == "st_dev" and "error" not in record
    if os.path.exists("/proc/self/mountinfo"):
        assert record["data_mount_point"] and record["data_fstype"]


def test_record_on_real_directories_of_two_filesystems(tmp_path):
    # /proc is its own filesystem on every Linux host: a real "different filesystems" pair
    if not os.path.isdir("/proc/self"):
        pytest.skip("no /proc")
    record = core.build_record("/proc", str(tmp_path), core.read_mountinfo())
    assert record["same_filesystem"] is False
    assert record["data_fstype"] == "proc" and record["data_mount_point"] == "/proc"
    assert record["data_device"] != record["results_device"]


def test_symlinked_data_path_is_resolved(tmp_path):
    (tmp_path / "real").mkdir()
    os.symlink(str(tmp_path / "real"), str(tmp_path / "link"))
    record = core.build_record(str(tmp_path / "link"), "/proc", "")
    assert record["data_or_chkpt_path"] == str(tmp_path / "link")
    assert record["data_or_chkpt_realpath"] == os.path.realpath(str(tmp_path / "real"))


def test_missing_directory_gives_no_verdict_and_names_it(tmp_path):
    record = core.build_record(str(tmp_path / "nope"), str(tmp_path), "")
    assert record["same_filesystem"] is None and record["data_device"] is None
    assert "nope" in record["error"] and "No such file" in record["error"]


def test_mount_point_without_mountinfo_walks_up(tmp_path):
    record = core.build_record(str(tmp_path), str(tmp_path), "")
    assert record["data_fstype"] is None
    assert os.path.ismount(record["data_mount_point"])
    assert os.path.realpath(str(tmp_path)).startswith(record["data_mount_point"])


def test_write_is_atomic_idempotent_and_refuses_a_sealed_directory(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    record = core.build_record(str(tmp_path), str(tmp_path), "", host="h1", now=0)
    path, changed = core.write_record(str(run_dir), record)
    assert changed and path == str(run_dir / "fs_separation.json")
    assert json.loads((run_dir / "fs_separation.json").read_text()) == record
    assert oct(os.stat(path).st_mode & 0o777) == "0o644"
    assert sorted(os.listdir(str(run_dir))) == ["fs_separation.json"]  # no temporary file left
    # a later probe that differs only in time and host leaves the file as it is
    again = core.build_record(str(tmp_path), str(tmp_path), "", host="h2", now=60)
    assert core.write_record(str(run_dir), again) == (path, False)
    assert json.loads((run_dir / "fs_separation.json").read_text())["probed_by_host"] == "h1"
    # a different verdict replaces it
    other = dict(record, same_filesystem=False)
    assert core.write_record(str(run_dir), other)[1] is True
    (run_dir / "CHECKSUMS.sha256").write_text("")
    with pytest.raises(core.FsSeparationError, match="sealed"):
        core.write_record(str(run_dir), record)
    with pytest.raises(core.FsSeparationError, match="does not exist"):
        core.write_record(str(tmp_path / "missing"), record)


def test_write_refuses_a_symlink_in_place_of_the_file(tmp_path):
    (tmp_path / "elsewhere.json").write_text("{}")
    os.symlink(str(tmp_path / "elsewhere.json"), str(tmp_path / "fs_separation.json"))
    with pytest.raises(core.FsSeparationError, match="symbolic link"):
        core.write_record(str(tmp_path), core.build_record(str(tmp_path), str(tmp_path), ""))
    assert (tmp_path / "elsewhere.json").read_text() == "{}"


@pytest.mark.parametrize("same", [True, False, None])
def test_the_rules_engine_reads_the_record(tmp_path, same):
    record = core.build_record(str(tmp_path), str(tmp_path), "")
    record["same_filesystem"] = same
    run = Run(str(tmp_path))
    run.benchmark, run.command = "training", "run"
    run.fs_separation = json.loads(core.render(record))
    issue = fs_separation_check(Ctx(load_edition("3.0"), "closed", run=run))
    assert issue.validation == ("CLOSED" if same is False else "INVALID")


# --- the module ------------------------------------------------------------------------------------------------
def test_module_writes_the_record(tmp_path, call_module):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    out = call_module(module, {"data_path": "/proc", "results_path": str(tmp_path), "run_dir": str(run_dir)})
    assert out["changed"] is True and out["same_filesystem"] is False
    assert out["path"] == str(run_dir / "fs_separation.json")
    assert json.loads((run_dir / "fs_separation.json").read_text()) == out["fs_separation"]
    out = call_module(module, {"data_path": "/proc", "results_path": str(tmp_path), "run_dir": str(run_dir)})
    assert out["changed"] is False


def test_module_check_mode_writes_nothing(tmp_path, call_module):
    out = call_module(module, {"data_path": str(tmp_path), "results_path": str(tmp_path), "run_dir": str(tmp_path),
                               "_ansible_check_mode": True})
    assert out["changed"] is True and out["same_filesystem"] is True
    assert not (tmp_path / "fs_separation.json").exists()
    out = call_module(module, {"data_path": str(tmp_path), "results_path": str(tmp_path),
                               "run_dir": str(tmp_path / "new"), "_ansible_check_mode": True})
    assert out["changed"] is True and "does not exist (yet)" in out["msg"] and not (tmp_path / "new").exists()
    (tmp_path / "CHECKSUMS.sha256").write_text("")
    out = call_module(module, {"data_path": str(tmp_path), "results_path": str(tmp_path), "run_dir": str(tmp_path),
                               "_ansible_check_mode": True})
    assert out["failed"] is True and "sealed" in out["msg"]


def test_module_fails_cleanly_on_a_sealed_run_and_warns_on_an_unprobed_path(tmp_path, call_module, monkeypatch):
    warned = []
    # how a warning reaches the result differs with what else this process has imported from ansible
    monkeypatch.setattr(module.AnsibleModule, "warn", lambda self, msg: warned.append(msg))
    (tmp_path / "CHECKSUMS.sha256").write_text("")
    out = call_module(module, {"data_path": str(tmp_path), "results_path": str(tmp_path), "run_dir": str(tmp_path)})
    assert out["failed"] is True and "sealed" in out["msg"] and "Traceback" not in json.dumps(out)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    out = call_module(module, {"data_path": str(tmp_path / "gone"), "results_path": str(tmp_path),
                               "run_dir": str(run_dir)})
    assert out["changed"] is True and out["same_filesystem"] is None
    assert "gone" in out["fs_separation"]["error"]
    assert len(warned) == 1 and "will report this run INVALID" in warned[0]


# --- target-side rules: Python 3.9 standard library, documentation that matches the argument spec --------------
@pytest.mark.parametrize("relative", ["plugins/module_utils/_fs_separation.py", "plugins/modules/fs_separation.py"])
def test_target_side_code_is_python_3_9_standard_library(relative, target_imports):
    import sys
    roots = target_imports(relative)
    stdlib = getattr(sys, "stdlib_module_names", {"__future__", "json", "os", "re", "socket", "tempfile", "time"})
    assert {r for r in roots if r not in ("ansible", "ansible_collections")} <= set(stdlib), roots


def test_module_documentation_matches_its_argument_spec():
    import re

    import yaml
    doc = yaml.safe_load(module.DOCUMENTATION)
    assert doc["module"] == "fs_separation"
    assert all("mlperf.storage.fs_separation" in task for task in yaml.safe_load(module.EXAMPLES))
    returned = yaml.safe_load(module.RETURN)
    assert set(returned) == {"path", "same_filesystem", "fs_separation", "changed"}
    record = core.build_record("/proc", "/", core.read_mountinfo())
    assert set(returned["fs_separation"]["sample"]) == set(record)
    with open(module.__file__) as handle:
        source = handle.read()
    for option, spec in doc["options"].items():
        assert re.search(r"\b%s=dict\(type=\"%s\"" % (option, spec["type"]), source), option
