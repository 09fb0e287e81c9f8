# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""scripts/make-lock: profile specs, choosing pins from pip's install report, writing the lock."""
import importlib.machinery
import importlib.util
import json
import os

import pytest
from packaging.version import Version

from ansible_collections.mlperf.storage.plugins.module_utils import _lock
from _testpaths import REPO

SCRIPT = os.path.join(REPO, "scripts", "make-lock")
PROFILES = os.path.join(REPO, "roles", "python_env", "files", "profiles")
LOCKS = os.path.join(REPO, "roles", "python_env", "files", "locks")


@pytest.fixture(scope="module")
def make_lock():
    loader = importlib.machinery.SourceFileLoader("make_lock", SCRIPT)
    spec = importlib.util.spec_from_loader("make_lock", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


ENV = {"implementation_name": "cpython", "os_name": "posix", "platform_machine": "x86_64",
       "platform_system": "Linux", "python_version": "3.12", "python_full_version": "3.12.1",
       "sys_platform": "linux", "platform_python_implementation": "CPython", "implementation_version": "3.12.1",
       "platform_release": "", "platform_version": ""}

PROFILE = """\
# profile: demo
# engine: dlio
# python: 3.12
# engine_generation: mlperf-v3.0
# note: first note
# cpu_build: torch
# no_deps: engine
# omit: wheel
# an ordinary comment
engine==1.0
tool @ git+https://example.org/tool@abc1234
torch>=2.0
app[fast]
"""


def item(name, version, requires=(), **extra):
    data = {"metadata": {"name": name, "version": version, "requires_dist": list(requires)},
            "is_direct": False, "download_info": {"url": "https://files/%s-%s.whl" % (name, version)}}
    data.update(extra)
    return data


REPORT = {"environment": ENV, "install": [
    item("engine", "1.0"),  # resolved with --no-deps: its declared requirements are not followed
    item("torch", "2.15.0", ["filelock", "nvidia-cudnn-cu13==9; platform_system == 'Linux'",
                             "triton~=3.9; platform_system == 'Linux'", "sympy; python_version < '3.0'",
                             "optree; extra == 'optree'"]),
    item("nvidia-cudnn-cu13", "9", ["nvidia-cublas"]),
    item("nvidia-cublas", "13"),
    item("triton", "3.9.0", ["filelock"]),
    item("filelock", "4.2.11"),
    item("App", "2.0", ["Speedups; extra == 'fast'", "slowlib; extra == 'slow'", "nvidia-ml-py", "wheel"]),
    item("speedups", "1.1"),
    item("nvidia-ml-py", "12.0"),  # GPU-named, but needed by a package that is not a cpu_build
    item("wheel", "0.48.0"),
    item("sympy", "1.14.0"),
]}


def test_parse_profile(make_lock):
    spec = make_lock.parse_profile(PROFILE)
    assert spec["header"] == {"profile": "demo", "engine": "dlio", "python": "3.12",
                              "engine_generation": "mlperf-v3.0"}
    assert spec["notes"] == ["first note"]
    assert spec["cpu_build"] == {"torch"} and spec["no_deps"] == {"engine"} and spec["omit"] == {"wheel"}
    assert [(r.name, r.url) for r in spec["direct"]] == [("tool", "git+https://example.org/tool@abc1234")]
    assert [r.name for r in spec["requirements"]] == ["engine", "torch", "app"]


@pytest.mark.parametrize("text, message", [
    ("# profile: x\nsix\nnot a requirement!\n", "line 3: 'not a requirement!' is not a requirement"),
    ("six==1\n", "no '# profile: NAME' header line"),
    ("# profile: x\n", "no requirements"),
])
def test_parse_profile_errors(make_lock, text, message):
    with pytest.raises(make_lock.ProfileError) as err:
        make_lock.parse_profile(text, "p.in")
    assert message in str(err.value) and str(err.value).startswith("p.in")


def test_select_prunes_gpu_runtime_of_cpu_builds_only(make_lock):
    spec = make_lock.parse_profile(PROFILE)
    selected = make_lock.select_from_report(spec, REPORT)
    assert sorted(selected) == ["app", "engine", "filelock", "nvidia-ml-py", "speedups", "torch"]
    assert make_lock.dropped_from_report(selected, REPORT, spec["omit"]) == [
        "nvidia-cublas", "nvidia-cudnn-cu13", "sympy", "triton"]


def test_select_refuses_a_report_that_lacks_a_requirement(make_lock):
    spec = make_lock.parse_profile(PROFILE)
    report = {"environment": ENV, "install": [i for i in REPORT["install"] if i["metadata"]["name"] != "filelock"]}
    with pytest.raises(make_lock.ProfileError, match="pip's report has no filelock"):
        make_lock.select_from_report(spec, report)


def test_render_lock(make_lock):
    spec = make_lock.parse_profile(PROFILE)
    selected = make_lock.select_from_report(spec, REPORT)
    text = make_lock.render_lock(spec, selected, ["triton"], "test")
    lines = text.splitlines()
    assert lines[1:5] == ["# profile: demo", "# engine: dlio", "# engine_generation: mlperf-v3.0", "# python: 3.12"]
    assert all(len(line) <= 110 for line in lines if line.startswith("#"))
    pins = [line for line in lines if not line.startswith("#")]
    assert pins == ["App==2.0", "engine==1.0", "filelock==4.2.11", "nvidia-ml-py==12.0", "speedups==1.1",
                    "tool @ git+https://example.org/tool@abc1234", "torch==2.15.0+cpu"]
    lock = _lock.parse_lock(text)
    assert lock["header"]["profile"] == "demo" and lock["pins"]["tool"]["url"] == "git+https://example.org/tool@abc1234"
    assert "# Deliberately not pinned: wheel" in lines


def test_direct_items_of_a_report_become_url_pins(make_lock):
    vcs = item("tool", "1.0", is_direct=True, download_info={
        "url": "https://example.org/tool", "vcs_info": {"vcs": "git", "commit_id": "abc1234" + "0" * 33}})
    assert make_lock.pin_line(vcs, set()) == "tool @ git+https://example.org/tool@abc1234" + "0" * 33


def test_main_writes_and_checks(make_lock, tmp_path, capsys):
    profile = tmp_path / "demo.in"
    profile.write_text(PROFILE)
    report = tmp_path / "report.json"
    report.write_text(json.dumps(REPORT))
    out = tmp_path / "demo.txt"
    assert make_lock.main([str(profile), "--from-report", str(report), "--output", str(out)]) == 0
    assert "wrote %s: 7 pins" % out in capsys.readouterr().out
    assert make_lock.main([str(profile), "--from-report", str(report), "--output", str(out), "--check"]) == 0
    out.write_text(out.read_text().replace("filelock==4.2.11", "filelock==4.2.10"))
    assert make_lock.main([str(profile), "--from-report", str(report), "--output", str(out), "--check"]) == 1
    assert "out of date" in capsys.readouterr().out


def test_main_explains_bad_input(make_lock, tmp_path, capsys):
    assert make_lock.main([str(tmp_path / "none.in")]) == 2
    assert "cannot read profile spec" in capsys.readouterr().err
    profile = tmp_path / "demo.in"
    profile.write_text(PROFILE)
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    assert make_lock.main([str(profile), "--from-report", str(bad)]) == 2
    assert "expected the JSON written by pip install --report" in capsys.readouterr().err


@pytest.mark.parametrize("profile", ["embedded", "submission"])
def test_bundled_lock_satisfies_its_profile_spec(make_lock, profile):
    """A hand edit of a lock that breaks a requirement of its profile is caught without the network."""
    with open(os.path.join(PROFILES, profile + ".in"), encoding="utf-8") as handle:
        spec = make_lock.parse_profile(handle.read())
    with open(os.path.join(LOCKS, profile + ".txt"), encoding="utf-8") as handle:
        lock = _lock.parse_lock(handle.read())
    for key in ("profile", "engine_version", "engine_generation", "engine_source", "python"):
        assert lock["header"][key] == spec["header"][key]
    for req in spec["direct"]:
        assert lock["pins"][_lock.normalize_name(req.name)]["url"] == req.url
    for req in spec["requirements"]:
        pin = lock["pins"][_lock.normalize_name(req.name)]
        assert req.specifier.contains(Version(pin["version"]), prereleases=True), (req, pin["version"])
    for key in spec["cpu_build"]:
        assert lock["pins"][key]["version"].endswith("+cpu")
    assert not set(spec["omit"]) & set(lock["pins"])
