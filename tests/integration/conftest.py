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


@pytest.fixture
def dirs(tmp_path):
    """Empty results, data and work directories for one test (a module may define its own, wider-scoped one)."""
    out = {name: tmp_path / name for name in ("results", "data", "work")}
    for path in out.values():
        path.mkdir()
    return out
