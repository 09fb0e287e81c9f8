# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""pytest imports test modules by their base name (rootdir import mode), and integration modules import helpers
from one another: a clash of names or a helper moved away stops the collection of the whole suite, which a
unit-only run never shows. Every test file name is unique and the whole tree collects."""
import collections
import os
import subprocess
import sys

from _testpaths import REPO


def test_every_test_module_name_is_unique():
    seen = collections.defaultdict(list)
    for folder, _dirs, files in os.walk(os.path.join(REPO, "tests")):
        for name in files:
            if name.startswith("test_") and name.endswith(".py"):
                seen[name].append(os.path.relpath(os.path.join(folder, name), REPO))
    clashes = {name: paths for name, paths in seen.items() if len(paths) > 1}
    assert not clashes, "rename one of each: %s" % clashes


def test_the_whole_suite_collects():
    proc = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", "tests"],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, "the suite does not collect:\n" + proc.stdout[-4000:] + proc.stderr[-2000:]
