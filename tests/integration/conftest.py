# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Integration fixtures: SSH test hosts in network namespaces (see tests/harness/netns.py, docs/test-hosts.md)."""
import os
import sys

import pytest

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if TESTS not in sys.path:
    sys.path.insert(0, TESTS)

from harness.netns import NetnsHosts, missing_prerequisites  # noqa: E402


@pytest.fixture
def netns_hosts(request):
    """Factory: ``netns_hosts(n=3, shared_data=True)`` returns started hosts, torn down after the test.

    Skips the test when the machine cannot create them (not root, no iproute2, no sshd).
    """
    reasons = missing_prerequisites()
    if reasons:
        pytest.skip("namespace SSH test hosts unavailable: " + "; ".join(reasons))
    created = []

    def teardown():
        for harness in reversed(created):
            harness.close()

    request.addfinalizer(teardown)

    def create(n=3, shared_data=True, **kwargs):
        harness = NetnsHosts(n=n, shared_data=shared_data, **kwargs)
        created.append(harness)  # registered before start: a half-built harness is torn down too
        return harness.start()

    return create


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


@pytest.fixture
def dirs(tmp_path):
    """Empty results, data and work directories for one test (a module may define its own, wider-scoped one)."""
    out = {name: tmp_path / name for name in ("results", "data", "work")}
    for path in out.values():
        path.mkdir()
    return out
