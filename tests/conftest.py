# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test-wide setup: make this checkout importable as ansible_collections.mlperf.storage."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _testpaths import COLLECTIONS, CORPUS, REPO  # noqa: E402,F401  (re-exported for older imports)

# ansible-playbook, ansible-runner and molecule of the interpreter running the tests come first on PATH
_BIN = os.path.dirname(sys.executable)
if os.environ.get("PATH", "").split(os.pathsep)[0] != _BIN:
    os.environ["PATH"] = _BIN + os.pathsep + os.environ.get("PATH", "")

if COLLECTIONS not in sys.path:
    sys.path.insert(0, COLLECTIONS)

try:  # route ansible_collections imports through ansible's own finder, as ansible does
    from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder

    _AnsibleCollectionFinder(paths=[COLLECTIONS])._install()
except ImportError:  # plain namespace-package imports still work without ansible-core
    pass


# A test that proves a row of docs/reliability.md must run on CI: it prepares what it needs itself (fixtures), so
# a skip there means the machine lost a prerequisite and the table's claim went unchecked.
import pytest  # noqa: E402


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.skipped and item.get_closest_marker("reliability") and os.environ.get("CI") == "true":
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = "reliability-table test skipped under CI (it must run there): %s" % reason


# The embedded environment, provisioned by the tests that need it (unit tests of the real engine included), so
# that they run on a fresh machine instead of skipping there.
EMBEDDED_VENV = "/var/tmp/mlperf-storage/venv"  # the embedded inventory's environment (also the README's)


@pytest.fixture(scope="session")
def embedded_env():
    """The real embedded benchmark environment (DLIO 2.0.0, tensorflow-cpu, CPU torch, MPICH wheel), provisioned
    once per session through playbooks/provision.yml on localhost; a few seconds when it is already converged.

    Returns the venv path. Tests that run the real DLIO use this instead of assuming an earlier test provisioned it.
    """
    import subprocess

    from _testpaths import REPO

    proc = subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "inventories/local",
         "playbooks/provision.yml", "-e", "python_env_dir=%s" % EMBEDDED_VENV],
        cwd=REPO, capture_output=True, text=True,
        env=dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg")))
    if proc.returncode != 0:
        pytest.fail("provisioning the embedded environment failed:\n" + (proc.stdout + proc.stderr)[-4000:])
    return EMBEDDED_VENV
