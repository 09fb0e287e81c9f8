# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""pytest imports test modules by their base name (rootdir import mode): two test files with one name in different
folders stop the whole collection of the suite. Every test file name is unique."""
import collections
import os

from _testpaths import REPO


def test_every_test_module_name_is_unique():
    seen = collections.defaultdict(list)
    for folder, _dirs, files in os.walk(os.path.join(REPO, "tests")):
        for name in files:
            if name.startswith("test_") and name.endswith(".py"):
                seen[name].append(os.path.relpath(os.path.join(folder, name), REPO))
    clashes = {name: paths for name, paths in seen.items() if len(paths) > 1}
    assert not clashes, "rename one of each: %s" % clashes
