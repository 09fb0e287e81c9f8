# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit-test fixtures: a module run in process, a program of a role imported by its path, what code that runs on
the hosts imports."""
import ast
import importlib.util
import json
import os

import pytest

from _testpaths import REPO


@pytest.fixture
def call_module(capsys):
    """``call_module(module, args)``: runs the Ansible module's main() in this process with ``args`` as its
    parameters and returns the JSON result it printed (a module always ends by exiting)."""
    from ansible.module_utils.testing import patch_module_args

    def call(module, args):
        with patch_module_args(args):
            with pytest.raises(SystemExit):
                module.main()
        return json.loads(capsys.readouterr().out)

    return call


@pytest.fixture(scope="session")
def load_script():
    """``load_script(path)``: imports a program the collection ships as a file (a role's files/*.py, not a package
    module), named after its file."""
    def load(path):
        spec = importlib.util.spec_from_file_location(os.path.splitext(os.path.basename(path))[0], path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load


@pytest.fixture(scope="session")
def target_imports():
    """``target_imports(relative)``: the top-level names of the modules a file of the checkout imports, once the file
    has parsed as Python 3.9 (the oldest Python the hosts may run)."""
    def roots(relative):
        with open(os.path.join(REPO, relative)) as handle:
            tree = ast.parse(handle.read(), filename=relative, feature_version=(3, 9))
        found = set()
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [node.module] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
                found.update((n or "").split(".")[0] for n in names)
        return found

    return roots
