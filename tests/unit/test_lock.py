# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Environment lock core (_lock): parsing, reading installed distributions, comparing, repair commands."""
import json
import os
import shlex

import pytest

from ansible_collections.mlperf.storage.plugins.module_utils import _lock
from _testpaths import REPO

LOCKS = os.path.join(REPO, "roles", "python_env", "files", "locks")
DLIO_GIT = "https://github.com/mlcommons/DLIO_local_changes"
DLIO_REV = "cbe200103b05fb65f04110157a7d0dd6d6d88ead"


def make_dist(site, name, version, dir_name=None, direct_url=None, metadata=None):
    """A fabricated <name>-<version>.dist-info as pip leaves it."""
    path = site / (dir_name or "%s-%s.dist-info" % (name.replace("-", "_"), version))
    path.mkdir(parents=True)
    if metadata is None:
        metadata = "Metadata-Version: 2.1\nName: %s\nVersion: %s\nSummary: test\n\nlong text\n" % (name, version)
    if metadata is not False:
        (path / "METADATA").write_text(metadata)
    if direct_url is not None:
        (path / "direct_url.json").write_text(json.dumps(direct_url))
    return path


def git_direct_url(commit=DLIO_REV, url=DLIO_GIT, requested=None):
    info = {"vcs": "git", "commit_id": commit}
    if requested:
        info["requested_revision"] = requested
    return {"url": url, "vcs_info": info}


# ----------------------------------------------------------------------------- parse_lock

def test_parse_headers_pins_and_comments():
    lock = _lock.parse_lock(
        "# mlperf.storage environment lock\n"
        "# profile: tiny\n#python: 3.11\n"
        "\n"
        "Foo_Bar==1.2  # trailing comment\n"
        "baz===2.0-custom\n"
        "qux==3.0 ; python_version >= '3.9'\n"
        "# profile: not-a-header-after-pins\n"
    )
    assert lock["header"] == {"profile": "tiny", "python": "3.11"}
    assert sorted(lock["pins"]) == ["baz", "foo-bar", "qux"]
    foo = lock["pins"]["foo-bar"]
    assert (foo["name"], foo["version"], foo["url"], foo["exact"], foo["line"]) == \
        ("Foo_Bar", "1.2", None, False, "Foo_Bar==1.2")
    assert lock["pins"]["baz"]["version"] == "2.0-custom" and lock["pins"]["baz"]["exact"] is True
    assert lock["pins"]["qux"]["version"] == "3.0"


def test_parse_url_pins():
    lock = _lock.parse_lock("dlio_benchmark @ git+%s@%s\nlocal @ file:///w/local-1.0-py3-none-any.whl\n"
                            % (DLIO_GIT, DLIO_REV))
    pin = lock["pins"]["dlio-benchmark"]
    assert pin["version"] is None and pin["url"] == "git+%s@%s" % (DLIO_GIT, DLIO_REV)
    assert lock["pins"]["local"]["url"] == "file:///w/local-1.0-py3-none-any.whl"


@pytest.mark.parametrize("line, words", [
    ("numpy", ["line 3", "'numpy'", "not an exact pin"]),
    ("numpy>=1.0", ["line 3", "not an exact pin"]),
    ("numpy==1.*", ["line 3", "not an exact pin"]),
    ("numpy==1.0,!=1.1", ["line 3", "not an exact pin"]),
    ("numpy==", ["line 3", "not an exact pin"]),
    ("-r other.txt", ["line 3", "pip option", "python_env_*"]),
    ("--index-url https://mirror/simple", ["line 3", "pip option"]),
    ("requests[socks]==2.0", ["line 3", "extras", "own line"]),
    ("==1.0", ["line 3", "does not start with a distribution name"]),
])
def test_parse_errors_name_the_line(line, words):
    with pytest.raises(_lock.LockError) as err:
        _lock.parse_lock("# profile: x\nsix==1.17.0\n%s\n" % line)
    for word in words:
        assert word in str(err.value)


def test_parse_duplicate_names_after_normalisation():
    with pytest.raises(_lock.LockError, match=r"line 3: Ruamel_Yaml is pinned twice \(first on line 1\)"):
        _lock.parse_lock("ruamel.yaml==0.18\nsix==1\nRuamel_Yaml==0.18\n")


def test_parse_empty_lock():
    with pytest.raises(_lock.LockError, match="no pinned distributions"):
        _lock.parse_lock("# profile: empty\n\n")


@pytest.mark.parametrize("name", ["embedded", "submission"])
def test_bundled_locks_parse_with_engine_headers(name):
    with open(os.path.join(LOCKS, name + ".txt"), encoding="utf-8") as handle:
        lock = _lock.parse_lock(handle.read())
    header = lock["header"]
    for key in ("profile", "engine", "engine_version", "engine_generation", "engine_source", "python"):
        assert header.get(key), key
    assert header["profile"] == name
    assert "dlio-benchmark" in lock["pins"] and "torch" in lock["pins"]
    assert lock["pins"]["torch"]["version"].endswith("+cpu")  # never the CUDA build
    assert not [k for k in lock["pins"] if k.startswith("nvidia-") or k == "triton"]


@pytest.mark.parametrize("name", ["embedded", "submission"])
def test_bundled_lock_headers_name_the_generation_the_engine_adapter_detects(name):
    """The training plan takes the engine generation from these headers; they must agree with the adapter."""
    from ansible_collections.mlperf.storage.plugins.plugin_utils import _dlio
    with open(os.path.join(LOCKS, name + ".txt"), encoding="utf-8") as handle:
        header = _lock.parse_lock(handle.read())["header"]
    generation = _dlio.detect_generation(header["engine_version"], header["engine_source"])
    assert generation == header["engine_generation"]
    assert header["engine_version"] in _dlio.generation_info(generation)["versions"]


def test_submission_lock_pins_the_mlperf_fork_for_python_312():
    with open(os.path.join(LOCKS, "submission.txt"), encoding="utf-8") as handle:
        lock = _lock.parse_lock(handle.read())
    assert lock["header"]["python"] == "3.12"
    assert lock["header"]["engine_generation"] == "mlperf-v3.0"
    assert "DLIO_local_changes@cbe2001" in lock["header"]["engine_source"]
    url, rev = _lock.split_vcs_url(lock["pins"]["dlio-benchmark"]["url"])
    assert url == DLIO_GIT and DLIO_REV.startswith(rev) and len(rev) >= 7


# ----------------------------------------------------------------------------- installed_distributions

def test_installed_distributions_reads_metadata_and_normalises(tmp_path):
    site = tmp_path / "lib" / "python3.11" / "site-packages"
    make_dist(site, "Foo.Bar_baz", "1.0")
    make_dist(site, "dlio_benchmark", "3.0.2", direct_url=git_direct_url())
    # The long description may contain header-like lines; only the header block counts.
    make_dist(site, "tricky", "2.0", metadata="Metadata-Version: 2.1\nName: tricky\nVersion: 2.0\n\n"
                                                "Name: other\nVersion: 9\n")
    make_dist(site, "nometa", "1.0", metadata=False)            # half-removed: skipped
    make_dist(site, "noversion", "1.0", metadata="Name: noversion\n\n")
    (site / "plain_module.py").write_text("")
    (site / "something.egg-link").write_text("")
    found = _lock.installed_distributions([str(site), str(tmp_path / "does-not-exist")])
    assert sorted(found) == ["dlio-benchmark", "foo-bar-baz", "tricky"]
    assert found["foo-bar-baz"]["name"] == "Foo.Bar_baz" and found["foo-bar-baz"]["version"] == "1.0"
    assert found["tricky"]["version"] == "2.0"
    assert found["foo-bar-baz"]["direct_url"] is None
    assert json.loads(found["dlio-benchmark"]["direct_url"])["vcs_info"]["commit_id"] == DLIO_REV


def test_installed_distributions_first_directory_wins(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    make_dist(first, "six", "1.17.0")
    make_dist(second, "six", "1.16.0")
    assert _lock.installed_distributions([str(first), str(second)])["six"]["version"] == "1.17.0"


# ----------------------------------------------------------------------------- compare

def installed_from(tmp_path, *dists):
    site = tmp_path / "site"
    for args in dists:
        make_dist(site, *args[:2], **(args[2] if len(args) > 2 else {}))
    return _lock.installed_distributions([str(site)])


def test_compare_reports_missing_version_and_source(tmp_path):
    lock = _lock.parse_lock(
        "six==1.17.0\nnumpy==2.4.6\nidna==3.20\n"
        "dlio_benchmark @ git+%s@%s\n" % (DLIO_GIT, DLIO_REV[:7])
    )
    installed = installed_from(
        tmp_path,
        ("six", "1.17.0"),
        ("numpy", "2.3.0"),
        ("dlio_benchmark", "3.0.2", {"direct_url": git_direct_url(commit="0" * 40)}),
        ("extra-tool", "1.0"),                     # not in the lock: ignored
    )
    problems = _lock.compare(lock, installed)
    assert [(p["package"], p["kind"]) for p in problems] == [
        ("dlio_benchmark", "source"), ("idna", "missing"), ("numpy", "version")]
    assert problems[1] == {"package": "idna", "kind": "missing", "expected": "3.20", "actual": None}
    assert problems[2]["expected"] == "2.4.6" and problems[2]["actual"] == "2.3.0"
    assert problems[0]["actual"] == "3.0.2 from %s@000000000000" % DLIO_GIT


@pytest.mark.parametrize("pin_rev, recorded", [
    (DLIO_REV, git_direct_url()),                                   # full rev
    (DLIO_REV[:7], git_direct_url()),                               # short rev, commit recorded in full
    ("main", git_direct_url(commit="f" * 40, requested="main")),    # a branch as pip recorded it
])
def test_git_pin_matches_direct_url(tmp_path, pin_rev, recorded):
    lock = _lock.parse_lock("dlio_benchmark @ git+%s@%s\n" % (DLIO_GIT, pin_rev))
    installed = installed_from(tmp_path, ("dlio_benchmark", "3.0.2", {"direct_url": recorded}))
    assert _lock.compare(lock, installed) == []


@pytest.mark.parametrize("recorded, actual", [
    (None, "3.0.2 from an index"),                                                  # installed from PyPI
    (git_direct_url(url="https://github.com/argonne-lcf/dlio_benchmark"),          # same rev, other repo
     "3.0.2 from https://github.com/argonne-lcf/dlio_benchmark@cbe200103b05"),
    (git_direct_url(commit="cbe2002" + "0" * 33), "3.0.2 from %s@cbe200200000" % DLIO_GIT),
])
def test_git_pin_from_elsewhere_is_a_source_mismatch(tmp_path, recorded, actual):
    lock = _lock.parse_lock("dlio_benchmark @ git+%s@%s\n" % (DLIO_GIT, DLIO_REV[:7]))
    extra = {"direct_url": recorded} if recorded else {}
    installed = installed_from(tmp_path, ("dlio_benchmark", "3.0.2", extra))
    [problem] = _lock.compare(lock, installed)
    assert problem["kind"] == "source" and problem["actual"] == actual


def test_file_url_pin(tmp_path):
    lock = _lock.parse_lock("local @ file:///w/local-1.0-py3-none-any.whl\n")
    good = installed_from(tmp_path / "a", ("local", "1.0", {"direct_url": {
        "url": "file:///w/local-1.0-py3-none-any.whl", "archive_info": {}}}))
    bad = installed_from(tmp_path / "b", ("local", "1.0", {"direct_url": {
        "url": "file:///elsewhere/local-1.0-py3-none-any.whl", "archive_info": {}}}))
    assert _lock.compare(lock, good) == []
    assert [p["kind"] for p in _lock.compare(lock, bad)] == ["source"]


def test_split_vcs_url_keeps_user_at_host():
    assert _lock.split_vcs_url("git+ssh://git@github.com/o/r.git@v1#egg=r") == ("ssh://git@github.com/o/r.git", "v1")
    assert _lock.split_vcs_url("git+https://h/o/r") == ("https://h/o/r", None)
    assert _lock.split_vcs_url("https://user@h/x-1.0.tar.gz#sha256=0") == ("https://user@h/x-1.0.tar.gz", None)


@pytest.mark.parametrize("pinned, installed, exact, same", [
    ("2.13.0", "2.13.0", False, True),
    ("2.0", "2.0.0", False, True),              # PEP 440: trailing zeros do not matter
    ("2.13.0", "2.13.0+cpu", False, True),      # pip calls the local build installed
    ("2.13.0+cpu", "2.13.0", False, False),     # but a +cpu pin needs the +cpu build
    ("2.13.0+cpu", "2.13.0+cu121", False, False),
    ("1.0rc1", "1.0c1", False, True),
    ("1.0.post1", "1.0-1", False, True),
    ("1.0", "1.0.post0", False, False),
    ("1!1.0", "1.0", False, False),
    ("1.0", "1.1", False, False),
    ("2.0-custom", "2.0-custom", True, True),
    ("1.0", "1.0.0", True, False),              # === compares strings
])
def test_version_matches(pinned, installed, exact, same):
    assert _lock.version_matches(pinned, installed, exact) is same


def test_compare_follows_pip_for_local_versions(tmp_path):
    installed = installed_from(tmp_path, ("torch", "2.13.0+cpu"))
    assert _lock.compare(_lock.parse_lock("torch==2.13.0\n"), installed) == []
    assert _lock.compare(_lock.parse_lock("torch==2.13.0+cpu\n"), installed) == []
    [problem] = _lock.compare(_lock.parse_lock("torch===2.13.0\n"), installed)
    assert problem["kind"] == "version" and problem["actual"] == "2.13.0+cpu"


# ----------------------------------------------------------------------------- lock_hash

def test_lock_hash_ignores_order_comments_and_blank_lines():
    a = "# profile: a\nsix==1.17.0\nidna==3.20\n"
    b = "# profile: b\n# another comment\n\nidna==3.20\n  six==1.17.0  \n"
    assert _lock.lock_hash(a) == _lock.lock_hash(b)
    assert len(_lock.lock_hash(a)) == 64
    assert _lock.lock_hash(a) != _lock.lock_hash("six==1.17.0\nidna==3.21\n")


# ----------------------------------------------------------------------------- repair commands

def test_fix_command_installs_exactly_the_problem_pins_and_quotes(tmp_path):
    lock = _lock.parse_lock("six==1.17.0\nidna==3.20\ndlio_benchmark @ git+%s@%s\n" % (DLIO_GIT, DLIO_REV))
    problems = [{"package": "dlio_benchmark", "kind": "source"}, {"package": "idna", "kind": "missing"}]
    python = "/opt/my venv/bin/python"
    command = _lock.fix_command(python, lock, problems, "/opt/lock.txt",
                                index_url="file:///srv/empty", find_links=["/srv/wheel house"])
    argv = shlex.split(command)
    assert argv[:4] == [python, "-m", "pip", "install"] and "--no-deps" in argv
    assert argv[argv.index("--index-url") + 1] == "file:///srv/empty"
    assert argv[argv.index("--find-links") + 1] == "/srv/wheel house"
    assert argv[-2:] == ["dlio_benchmark @ git+%s@%s" % (DLIO_GIT, DLIO_REV), "idna==3.20"]
    assert "six" not in command and "-r" not in argv


def test_pip_install_argv_whole_lock():
    argv = _lock.pip_install_argv("/v/bin/python", "/v/mlperf-lock.txt", extra_index_urls=["https://m/simple"])
    assert argv[-2:] == ["-r", "/v/mlperf-lock.txt"]
    assert argv[argv.index("--extra-index-url") + 1] == "https://m/simple"
    assert "--index-url" not in argv


@pytest.mark.parametrize("word, quoted", [
    ("numpy==2.4.6", "numpy==2.4.6"),
    ("a b", "'a b'"),
    ("it's", "'it'\"'\"'s'"),
    ("", "''"),
    ("$HOME", "'$HOME'"),
])
def test_shell_quote(word, quoted):
    assert _lock.shell_quote(word) == quoted
    assert shlex.split(_lock.shell_quote(word)) == [word]
