# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ownership and mode checks of directories the collection runs programs from or writes into
(plugins/module_utils/_safe_dir.py and the safe_dir module).

Directories owned by another user are made as root with chown to uid 65534 (nobody); the tests
that need that skip when not run as root.
"""
import os
import socket
import stat

import pytest

from ansible_collections.mlperf.storage.plugins.module_utils import _safe_dir as safe
from ansible_collections.mlperf.storage.plugins.modules import safe_dir

NOBODY = 65534
as_root = pytest.mark.skipif(os.geteuid() != 0, reason="making directories of another user needs root")


def mkdir(path, mode=0o755, uid=None):
    os.makedirs(path, exist_ok=True)
    os.chmod(path, mode)
    if uid is not None:
        os.chown(path, uid, -1)
    return str(path)


def mode_of(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_creates_missing_components_with_the_mode_asked_despite_the_umask(tmp_path):
    target = str(tmp_path / "a" / "b" / "c")
    old = os.umask(0o077)
    try:
        result = safe.check_dir(target, create=True, mode=0o755)
    finally:
        os.umask(old)
    assert result["safe"] and result["problems"] == [] and result["missing"] == []
    assert result["created"] == [str(tmp_path / "a"), str(tmp_path / "a" / "b"), target]
    assert all(mode_of(p) == 0o755 for p in result["created"])
    again = safe.check_dir(target, create=True)
    assert again["safe"] and again["created"] == []  # idempotent


def test_check_only_reports_the_missing_part_and_creates_nothing(tmp_path):
    target = str(tmp_path / "x" / "y")
    result = safe.check_dir(target)
    assert result["safe"] and result["missing"] == [target] and result["created"] == []
    assert not os.path.exists(str(tmp_path / "x"))
    assert result["real_path"] is None


def test_sticky_world_writable_ancestor_passes_but_not_as_the_directory_used(tmp_path):
    spool = mkdir(tmp_path / "spool", 0o1777)
    result = safe.check_dir(os.path.join(spool, "work"), create=True)
    assert result["safe"], result["problems"]
    used = safe.check_dir(spool)
    assert not used["safe"]
    (problem,) = used["problems"]
    assert problem["path"] == spool and problem["mode"] == "1777" and problem["leaf"] is True
    assert "writable by group and others" in problem["problem"]


def test_world_or_group_writable_ancestor_without_sticky_is_refused_and_nothing_is_made_below(tmp_path):
    for mode, who in ((0o777, "others"), (0o775, "its group")):
        parent = mkdir(tmp_path / ("open%o" % mode), mode)
        target = os.path.join(parent, "work", "telemetry")
        result = safe.check_dir(target, create=True)
        assert not result["safe"]
        assert result["problems"][0]["path"] == parent
        assert ("writable by %s without the sticky bit" % who) in result["problems"][0]["problem"]
        assert result["created"] == [] and not os.path.exists(os.path.join(parent, "work"))


def test_group_writable_directory_used_is_refused(tmp_path):
    work = mkdir(tmp_path / "work", 0o775)
    result = safe.check_dir(work)
    assert not result["safe"] and "writable by its group (mode 0775)" in result["problems"][0]["problem"]


@as_root
def test_directory_of_another_user_is_refused_with_host_path_owner_mode_and_fix(tmp_path):
    work = mkdir(tmp_path / "work", 0o755, uid=NOBODY)
    result = safe.check_dir(work, create=True)
    assert not result["safe"]
    (problem,) = result["problems"]
    assert problem["uid"] == NOBODY and problem["owner"] == "nobody" and problem["mode"] == "0755"
    assert problem["problem"] == "is owned by nobody, not by root"  # root is not listed twice
    message = safe.explain(result, host="client-7")
    assert message.startswith("refusing to use %s: on client-7, %s is owned by nobody" % (work, work))
    assert "mode 0755" in message and "fix: " in message and "chown root %s" % work in message
    assert socket.gethostname() in safe.explain(result)


@as_root
def test_parent_of_another_user_is_refused_even_when_the_directory_is_ours(tmp_path):
    parent = mkdir(tmp_path / "parent", 0o755, uid=NOBODY)
    work = mkdir(os.path.join(parent, "work"), 0o755)
    result = safe.check_dir(os.path.join(work, "venv"), create=True)
    assert [p["path"] for p in result["problems"]] == [parent]
    assert not os.path.exists(os.path.join(work, "venv"))


@as_root
def test_trusted_owner_is_accepted(tmp_path):
    work = mkdir(tmp_path / "work", 0o755, uid=NOBODY)
    result = safe.check_dir(os.path.join(work, "telemetry"), create=True, trusted_uids={NOBODY})
    assert result["safe"] and result["created"] == [os.path.join(work, "telemetry")]
    uids, unknown = safe.resolve_uids(["nobody", "0", "no-such-user-here"])
    assert uids == {NOBODY, 0} and unknown == ["no-such-user-here"]


@as_root
def test_symlink_planted_by_another_user_is_not_followed(tmp_path):
    spool = mkdir(tmp_path / "spool", 0o1777)
    victim = mkdir(tmp_path / "etc-like", 0o755)
    link = os.path.join(spool, "mlperf")
    os.symlink(victim, link)
    os.lchown(link, NOBODY, -1)
    result = safe.check_dir(os.path.join(link, "work"), create=True)
    assert not result["safe"] and result["problems"][0]["path"] == link
    assert "owned by nobody" in result["problems"][0]["problem"]
    assert not os.path.exists(os.path.join(victim, "work"))


def test_symlink_of_a_trusted_user_is_followed_and_its_target_checked(tmp_path):
    real = mkdir(tmp_path / "real", 0o755)
    os.symlink(real, str(tmp_path / "alias"))
    result = safe.check_dir(str(tmp_path / "alias" / "work"), create=True)
    assert result["safe"] and result["created"] == [os.path.join(real, "work")]
    assert result["real_path"] == os.path.join(real, "work")
    os.chmod(real, 0o777)
    result = safe.check_dir(str(tmp_path / "alias" / "work"))
    assert not result["safe"] and result["problems"][0]["path"] == real


def test_a_file_in_the_way_is_reported(tmp_path):
    (tmp_path / "file").write_text("x")
    result = safe.check_dir(str(tmp_path / "file" / "sub"), create=True)
    assert not result["safe"] and result["problems"][0]["problem"] == "is not a directory"


def test_relative_path_is_an_error():
    with pytest.raises(ValueError):
        safe.check_dir("relative/dir")


# --------------------------------------------------------------------------- the module

def test_module_creates_and_reports(tmp_path, call_module):
    target = str(tmp_path / "w" / "t")
    result = call_module(safe_dir, {"path": target, "create": True})
    assert result["changed"] is True and result["safe"] is True and result["created"][-1] == target
    result = call_module(safe_dir, {"path": target, "create": True})
    assert result["changed"] is False and result["msg"] == "%s is safe" % target
    assert result["user"] and result["uid"] == os.geteuid()


def test_module_check_mode_creates_nothing(tmp_path, call_module):
    target = str(tmp_path / "w")
    result = call_module(safe_dir, {"path": target, "create": True, "_ansible_check_mode": True})
    assert result["changed"] is True and result["missing"] == [target] and not os.path.exists(target)


def test_module_refuses_unsafe_directory_without_traceback(tmp_path, call_module):
    work = mkdir(tmp_path / "work", 0o777)
    result = call_module(safe_dir, {"path": os.path.join(work, "t"), "create": True})
    assert result["failed"] is True and result["safe"] is False
    assert "refusing to use" in result["msg"] and "mode 0777" in result["msg"] and "fix:" in result["msg"]
    assert "Traceback" not in result["msg"] and not os.path.exists(os.path.join(work, "t"))
    report = call_module(safe_dir, {"path": work, "fail_on_unsafe": False})
    assert report.get("failed") is not True and report["safe"] is False and report["problems"]


def test_module_bad_arguments(tmp_path, call_module):
    result = call_module(safe_dir, {"path": str(tmp_path / "w"), "create": True, "mode": "0777"})
    assert result["failed"] is True and "would let the group or others write" in result["msg"]
    result = call_module(safe_dir, {"path": str(tmp_path / "w"), "mode": "rwx"})
    assert result["failed"] is True and "octal" in result["msg"]
    result = call_module(safe_dir, {"path": str(tmp_path / "w"), "trusted_owners": ["no-such-user-here"]})
    assert result["failed"] is True and "no-such-user-here" in result["msg"]


@pytest.mark.parametrize("relative", ["plugins/module_utils/_safe_dir.py", "plugins/modules/safe_dir.py"])
def test_target_side_code_is_python_3_9_standard_library(relative, target_imports):
    roots = target_imports(relative)
    assert roots <= {"__future__", "ansible", "ansible_collections", "os", "pwd", "socket", "stat"}, roots


def test_module_documentation_matches_its_argument_spec():
    import re

    import yaml
    doc = yaml.safe_load(safe_dir.DOCUMENTATION)
    assert doc["module"] == "safe_dir"
    assert all("mlperf.storage.safe_dir" in task for task in yaml.safe_load(safe_dir.EXAMPLES))
    returned = yaml.safe_load(safe_dir.RETURN)
    assert {"path", "safe", "created", "missing", "problems", "user", "msg"} <= set(returned)
    with open(safe_dir.__file__) as handle:
        source = handle.read()
    for option, spec in doc["options"].items():
        assert re.search(r"\b%s=dict\(type=\"%s\"" % (option, spec["type"]), source), option


def test_creating_below_a_chain_of_links_counts_each_link_once(tmp_path):
    # 10 links of our own in a row: within the limit of 16 for the check, and still for the creating walk
    target = tmp_path / "real"
    target.mkdir(mode=0o755)
    os.chmod(str(target), 0o755)
    previous = target
    for number in range(10):
        link = tmp_path / ("link%d" % number)
        link.symlink_to(previous)
        previous = link
    result = safe.check_dir(str(previous / "new"), create=True)
    assert result["safe"], result["problems"]
    assert (target / "new").is_dir() and result["created"]
