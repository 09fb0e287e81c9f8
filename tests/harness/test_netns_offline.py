# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Harness behaviour that needs no root: prerequisite reporting, argument checks, inventory and account files."""
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


@pytest.mark.parametrize("kwargs, message", [
    (dict(ssh_port=0), "ssh_port must be a TCP port number from 1 to 65535, got 0"),
    (dict(ssh_port="2222"), "ssh_port must be a TCP port number from 1 to 65535, got '2222'"),
    (dict(user="Ops User"), "user 'Ops User' must be a POSIX user name"),
    (dict(user="root", uid=4242), "user 'root' has uid 0, got uid=4242"),
    (dict(user="mlops", uid=0), "uid of the test user must be a whole number from 1000 to 60000"),
    (dict(ops=True, uid=True), "got True"),
    (dict(inventory_prefix="Ops"), "inventory_prefix 'Ops' must be lower-case"),
])
def test_ops_arguments_are_checked(kwargs, message):
    with pytest.raises(netns.HarnessError, match=message):
        netns.NetnsHosts(**kwargs)


def planned(**kwargs):
    """A harness laid out as tag 7 in /tmp/mlpst7-x without creating anything."""
    harness = netns.NetnsHosts(**kwargs)
    harness._layout("7", "/tmp/mlpst7-x")
    return harness


def test_default_inventory_is_root_on_22_by_hostname():
    harness = planned(n=2)
    assert (harness.user, harness.uid, harness.ssh_port, harness.become, harness.names_resolve) == \
        ("root", 0, 22, False, True)
    clients = harness.inventory()["all"]["children"]["clients"]
    assert clients["hosts"] == {"node1": {"ansible_host": "10.231.7.1"}, "node2": {"ansible_host": "10.231.7.2"}}
    assert clients["vars"]["ansible_user"] == "root"
    assert "ansible_port" not in clients["vars"] and "ansible_become_method" not in clients["vars"]
    assert harness._known_hosts_names(harness.host("node2")) == ("node2", "10.231.7.2")


def test_ops_inventory_reaches_hosts_by_address_on_the_port_as_the_user():
    harness = planned(n=3, ops=True)
    assert (harness.user, harness.uid, harness.gid, harness.ssh_port, harness.become, harness.names_resolve) == \
        ("mlops", 4242, 4242, 2222, True, False)
    assert harness.home == "/tmp/mlpst7-x/home/mlops"
    clients = harness.inventory()["all"]["children"]["clients"]
    assert clients["hosts"] == {
        "opsnode%d" % i: {"ansible_host": "10.231.7.%d" % i, "mlperf_mpi_host": "10.231.7.%d" % i}
        for i in (1, 2, 3)}
    group = clients["vars"]
    assert (group["ansible_user"], group["ansible_port"], group["ansible_become_method"]) == ("mlops", 2222, "sudo")
    assert "ansible_become" not in group  # become only where a task asks for it
    # hosts keep their hostnames; either name finds the host
    assert harness.host("opsnode2") is harness.host("node2")
    assert harness.host("node2").inventory_name == "opsnode2"
    # a non-22 port is part of the known_hosts key: ssh looks up "[address]:port"
    assert harness._known_hosts_names(harness.host("node2")) == ("[node2]:2222", "[10.231.7.2]:2222")
    with pytest.raises(netns.HarnessError, match="no test host called 'node9'; hosts are opsnode1, opsnode2"):
        harness.host("node9")


def test_ops_knobs_can_be_set_one_at_a_time():
    harness = planned(n=1, ssh_port=2200)
    assert (harness.user, harness.ssh_port, harness.hosts[0].inventory_name) == ("root", 2200, "node1")
    assert harness.inventory()["all"]["children"]["clients"]["vars"]["ansible_port"] == 2200
    harness = planned(n=1, ops=True, user="svc", uid=5000, inventory_prefix="c1-")
    assert (harness.user, harness.uid, harness.ssh_port, harness.hosts[0].inventory_name) == \
        ("svc", 5000, 2222, "c1-node1")


PASSWD = "root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
GROUP = "root:x:0:\nshadow:x:42:\n"
SHADOW = "root:*:19000:0:99999:7:::\n"
SUDOERS = "Defaults\tenv_reset\nroot\tALL=(ALL:ALL) ALL\n@includedir /etc/sudoers.d\n"


def test_account_files_add_the_user_to_copies_of_the_machine_files():
    files = netns.account_files("mlops", 4242, "/tmp/h/mlops", PASSWD, GROUP, SHADOW, SUDOERS, 20000)
    assert files["passwd"] == PASSWD + "mlops:x:4242:4242:MLPerf Storage test user:/tmp/h/mlops:/bin/bash\n"
    assert files["group"] == GROUP + "mlops:x:4242:\n"
    # '*' is no password but not locked: sshd without PAM refuses '!' accounts even for keys
    assert files["shadow"] == SHADOW + "mlops:*:20000:0:99999:7:::\n"
    assert files["sudoers"] == SUDOERS + "mlops ALL=(ALL) NOPASSWD: ALL\n"


def test_account_files_without_a_sudoers_or_final_newline():
    files = netns.account_files("mlops", 4242, "/h", "root:x:0:0::/root:/bin/sh", "root:x:0:", "", None, 1)
    assert files["passwd"] == "root:x:0:0::/root:/bin/sh\nmlops:x:4242:4242:MLPerf Storage test user:/h:/bin/bash\n"
    assert files["shadow"] == "mlops:*:1:0:99999:7:::\n"
    assert files["sudoers"].startswith("Defaults\tenv_reset\n")
    assert files["sudoers"].endswith("root\tALL=(ALL:ALL) ALL\nmlops ALL=(ALL) NOPASSWD: ALL\n")


@pytest.mark.parametrize("user, uid, message", [
    ("nobody", 4242, "user nobody already exists on this machine"),
    ("mlops", 65534, "uid 65534 already exists on this machine"),
    ("shadow", 4242, "group shadow already exists"),  # a group of that name is as much a clash
    ("mlops", 42, "gid 42 already exists"),
])
def test_account_files_refuse_names_and_ids_the_machine_uses(user, uid, message):
    with pytest.raises(netns.HarnessError, match=message):
        netns.account_files(user, uid, "/h", PASSWD, GROUP, SHADOW, SUDOERS, 1)


def test_missing_sudo_is_reported_only_when_needed(monkeypatch):
    real_which = netns.shutil.which
    monkeypatch.setattr(netns.shutil, "which", lambda tool: None if tool == "sudo" else real_which(tool))
    monkeypatch.setattr(netns.os, "geteuid", lambda: 1000)
    assert not any("sudo" in reason for reason in netns.missing_prerequisites())
    assert "'sudo' not found: the non-root test user becomes root with it (apt-get install -y sudo)" in \
        netns.missing_prerequisites(need_sudo=True)
