"""Harness behaviour that needs no root: prerequisite reporting and argument checks."""
import pytest

from harness import netns


def test_missing_prerequisites_names_root_and_sshd(monkeypatch):
    monkeypatch.setattr(netns.os, "geteuid", lambda: 1000)
    monkeypatch.setattr(netns, "SSHD", "/nonexistent/sshd")
    reasons = netns.missing_prerequisites()
    assert "needs root (network namespaces and bind mounts)" in reasons
    assert "/nonexistent/sshd not found (apt-get install -y openssh-server)" in reasons


def test_start_refuses_with_the_reasons(monkeypatch):
    monkeypatch.setattr(netns.os, "geteuid", lambda: 1000)
    with pytest.raises(netns.HarnessError, match="cannot create test hosts: needs root"):
        netns.NetnsHosts(n=1).start()


@pytest.mark.parametrize("kwargs, message", [
    (dict(n=0), "n must be a whole number of hosts from 1 to 250, got 0"),
    (dict(n=251), "got 251"),
    (dict(name_prefix="Node"), "name_prefix 'Node' must be lower-case"),
    (dict(name_prefix="a b"), "name_prefix 'a b' must be lower-case"),
])
def test_arguments_are_checked(kwargs, message):
    with pytest.raises(netns.HarnessError, match=message):
        netns.NetnsHosts(**kwargs)


def test_stale_name_pattern_matches_only_harness_names():
    assert netns._NAME_RE.match("mlpst7n2").groups() == ("7", "n2")
    assert netns._NAME_RE.match("mlpst12br").groups() == ("12", "br")
    assert netns._NAME_RE.match("mlpst3v10").groups() == ("3", "v10")
    for other in ("eth0", "mlpst", "mlpstbr", "xmlpst1n1", "mlpst1n1x", "mlpst1veth"):
        assert netns._NAME_RE.match(other) is None
