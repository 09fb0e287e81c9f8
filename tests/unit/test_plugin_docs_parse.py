# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every plugin's DOCUMENTATION, EXAMPLES and RETURN is YAML (a ': ' inside a plain description line breaks
ansible-doc for the whole plugin); the installed-collection test renders them with ansible-doc too."""
import ast
import glob
import os

import pytest
import yaml

from _testpaths import REPO

FILES = sorted(glob.glob(os.path.join(REPO, "plugins", "*", "*.py")))


@pytest.mark.parametrize("path", FILES, ids=[os.path.relpath(p, REPO) for p in FILES])
def test_plugin_doc_blocks_are_yaml(path):
    found = {}
    for node in ast.parse(open(path).read()).body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) in ("DOCUMENTATION", "EXAMPLES",
                                                                                      "RETURN"):
            found[node.targets[0].id] = yaml.safe_load(node.value.value)
    if "DOCUMENTATION" in found:
        doc = found["DOCUMENTATION"]
        assert isinstance(doc, dict) and doc.get("short_description"), path
        if os.path.basename(os.path.dirname(path)) != "callback":  # callbacks document options only
            assert set(found) == {"DOCUMENTATION", "EXAMPLES", "RETURN"}, path
