# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every tracked Python file of the collection opens with the licence header (after a shebang and a coding
line where it has them)."""
import os
import subprocess

import pytest

from _testpaths import REPO

HEADER = ["# Copyright: mlperf.storage contributors",
          "# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)"]
FOLDERS = ("plugins", "roles", "bench", "scripts", "tests")



def has_header(text):
    """True when the header lines come first, after an optional shebang and an optional coding line."""
    lines = text.splitlines()
    first = 0
    if lines[first:first + 1] and lines[first].startswith("#!"):
        first += 1
    if lines[first:first + 1] and lines[first].startswith("# -*- coding"):
        first += 1
    return lines[first:first + len(HEADER)] == HEADER


def is_python(path):
    """A .py file, or a script whose shebang runs Python."""
    if path.endswith(".py"):
        return True
    with open(os.path.join(REPO, path), "rb") as handle:
        first = handle.readline(200)
    return first.startswith(b"#!") and b"python" in first


@pytest.fixture(scope="module")
def tracked_python():
    try:
        listed = subprocess.run(["git", "-C", REPO, "ls-files", "-z", "--"] + list(FOLDERS),
                                capture_output=True, check=True, timeout=60).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip("not a git checkout, the tracked files are unknown: %s" % exc)
    paths = [p for p in listed.decode("utf-8").split("\0") if p and os.path.isfile(os.path.join(REPO, p))]
    found = sorted(p for p in paths if is_python(p))
    assert any(p.startswith("plugins/modules/") for p in found), "no module found; the listing is wrong"
    return found


def read(path):
    with open(os.path.join(REPO, path), encoding="utf-8") as handle:
        return handle.read()


def test_tracked_python_files_carry_the_licence_header(tracked_python):
    missing = [p for p in tracked_python if not has_header(read(p))]
    assert not missing, "add the two licence header lines at the top of:\n  " + "\n  ".join(missing)


def test_has_header_reads_the_top_of_the_file():
    body = "\n".join(HEADER) + "\n"
    assert has_header(body)
    assert has_header("#!/usr/bin/python\n# -*- coding: utf-8 -*-\n" + body)
    assert not has_header('"""Docstring first."""\n' + body)
    assert not has_header(HEADER[0] + "\n")
    assert not has_header("")
