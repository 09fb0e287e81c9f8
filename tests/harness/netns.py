# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""SSH test hosts on one machine: network namespaces on a private bridge, each with its own sshd.

Every host is a network namespace ``mlpst<k>n<i>`` with a veth ``mlpst<k>v<i>`` on the bridge
``mlpst<k>br`` and the address ``10.231.<k>.<i>`` (the bridge, i.e. the controller, is
``10.231.<k>.254``). ``k`` is the first /24 that no address or route on the machine overlaps and
no live harness holds. Only these names and addresses are ever touched.

Each host's sshd runs inside ``unshare --uts --mount --pid``, so inside a host (and in every SSH
session to it) there is:

* its own process namespace: a host sees and can signal only its own processes, as a real machine
  (cleanup that scans ``/proc`` on one host cannot reach another host's ranks);
* its own hostname (``hostname`` prints ``node2``; MPI tells nodes apart by it);
* ``/etc/hosts`` listing every harness host (bind-mounted from the harness dir), so ``node3``
  resolves for ssh, hydra's proxies calling back to the launcher, and Open MPI alike;
* ``/etc/ssh/ssh_config`` naming the harness client key and pinned known_hosts (bind-mounted),
  so a plain ``ssh node3`` or ``ssh 10.231.k.3`` works as root, as on a cluster whose nodes
  were set up for MPI: ``mpirun -hosts node1,node2,node3`` needs no extra option or variable;
* with ``shared_data=False`` a per-host directory bind-mounted at :attr:`NetnsHosts.data_dir`,
  so the same path shows different content on every host (a shared-filesystem probe fails);
* always, a per-host directory bind-mounted at :attr:`NetnsHosts.scratch_dir`: node-local scratch
  at one path, as ``/var/tmp`` on a cluster (a file one host writes there is not on the others).

The machine's real /etc and /root are never written. The controller reaches the hosts through
the generated inventory (addresses in ``ansible_host``) or ``ssh -F <ssh_config> node1``.

``NetnsHosts(ops=True)`` makes the hosts as unfriendly as an operated cluster: inventory names
(``opsnode1``) that resolve nowhere (reached by address, ``mlperf_mpi_host`` set), sshd on port
2222 only, and a non-root remote user ``mlops`` (uid 4242) with passwordless sudo. The account
exists only inside the hosts: generated passwd/group/shadow/sudoers are bind-mounted over /etc
in each host's private mount namespace.

Needs root, iproute2 (``ip``), util-linux (``unshare``, ``nsenter``) and openssh-server.
Run ``python tests/harness/netns.py cleanup`` to remove leftovers of crashed runs, or
``python tests/harness/netns.py up 3 [--ops]`` to keep hosts up for manual work (Ctrl-C tears down).
"""
import fcntl
import ipaddress
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

PREFIX = "mlpst"
STATE_DIR = "/run/mlperf-storage-netns"
SUBNET_BASE = "10.231"
SSHD = "/usr/sbin/sshd"
SFTP_SERVER = "/usr/lib/openssh/sftp-server"
_NAME_RE = re.compile(r"^%s(\d{1,3})(br|v\d{1,3}|n\d{1,3})$" % PREFIX)
_REQUIRED_TOOLS = ("ip", "unshare", "nsenter", "ssh", "ssh-keygen", "mount")
# ops mode defaults: what an operated cluster typically looks like from the controller
OPS_SSH_PORT = 2222
OPS_USER = "mlops"
OPS_UID = 4242
OPS_INVENTORY_PREFIX = "ops"
_USER_RE = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
_PREFIX_RE = re.compile(r"^[a-z][a-z0-9-]{0,20}$")


class HarnessError(RuntimeError):
    """The test hosts could not be created or driven; the message says what and why."""


def missing_prerequisites(need_sudo=False):
    """Reasons this machine cannot run the harness (empty when it can).

    ``need_sudo``: the hosts get a non-root user whose become method is sudo.
    """
    reasons = []
    if os.geteuid() != 0:
        reasons.append("needs root (network namespaces and bind mounts)")
    for tool in _REQUIRED_TOOLS:
        if shutil.which(tool) is None:
            reasons.append("'%s' not found (apt-get install -y iproute2 util-linux openssh-client)" % tool)
    if not os.access(SSHD, os.X_OK):
        reasons.append("%s not found (apt-get install -y openssh-server)" % SSHD)
    if need_sudo and shutil.which("sudo") is None:
        reasons.append("'sudo' not found: the non-root test user becomes root with it (apt-get install -y sudo)")
    if not reasons:  # root in an unprivileged container may still lack CAP_NET_ADMIN / CAP_SYS_ADMIN
        probe = subprocess.run(["unshare", "--net", "--mount", "--uts", "true"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, timeout=30)
        if probe.returncode != 0:
            reasons.append("cannot create namespaces here: %s" % probe.stderr.strip())
    return reasons


def _run(argv, check=True, timeout=30, **kwargs):
    try:
        proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              timeout=timeout, **kwargs)
    except subprocess.TimeoutExpired:
        raise HarnessError("'%s' did not finish within %ss" % (" ".join(argv), timeout))
    if check and proc.returncode != 0:
        raise HarnessError("'%s' failed (exit %d): %s"
                           % (" ".join(argv), proc.returncode, (proc.stderr or proc.stdout).strip()))
    return proc


def _process_start_time(pid):
    """Kernel start time of ``pid`` (distinguishes a live owner from a reused pid), or None."""
    try:
        with open("/proc/%d/stat" % pid) as handle:
            return handle.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError, ValueError):
        return None


def _claimed_networks():
    """Networks that addresses or routes on this machine already use (the default route aside)."""
    networks = []
    for argv in (["ip", "-o", "-4", "addr", "show"], ["ip", "-4", "route", "show", "table", "all"]):
        for line in _run(argv).stdout.splitlines():
            for word in line.split():
                if re.match(r"^\d+\.\d+\.\d+\.\d+(/\d+)?$", word):
                    networks.append(ipaddress.ip_network(word, strict=False))
    return [net for net in networks if net.prefixlen > 0]


def _existing_links_and_namespaces():
    links = [line.split(":")[1].strip().split("@")[0]
             for line in _run(["ip", "-o", "link", "show"]).stdout.splitlines() if ":" in line]
    namespaces = [line.split()[0] for line in _run(["ip", "netns", "list"]).stdout.splitlines() if line.strip()]
    return links, namespaces


def _owner_alive(state):
    pid = state.get("pid")
    return isinstance(pid, int) and _process_start_time(pid) == state.get("pid_start")


def _read_states():
    states = {}
    if os.path.isdir(STATE_DIR):
        for entry in os.listdir(STATE_DIR):
            if entry.endswith(".json"):
                try:
                    with open(os.path.join(STATE_DIR, entry)) as handle:
                        states[entry[:-5]] = json.load(handle)
                except (OSError, ValueError):
                    states[entry[:-5]] = {}
    return states


def _kill_namespace_processes(netns):
    """SIGKILL every process inside ``netns`` (all of them were started there by a harness)."""
    for _ in range(5):
        pids = [int(p) for p in _run(["ip", "netns", "pids", netns], check=False).stdout.split() if p.isdigit()]
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.1)


def _close_control_masters(control_dir):
    """Stop ssh ControlPersist masters the controller left for these hosts, before the hosts vanish."""
    if not os.path.isdir(control_dir):
        return
    for entry in os.listdir(control_dir):
        _run(["ssh", "-o", "ControlPath=%s" % os.path.join(control_dir, entry), "-O", "exit", "harness-host"],
             check=False, timeout=10)


def cleanup_stale():
    """Remove namespaces, links, processes and temp dirs of harness runs whose owner process is gone.

    Touches only names matching ``mlpst<k>(br|v<i>|n<i>)``; harnesses of live processes are kept.
    Returns the names removed.
    """
    states = _read_states()
    live = set(tag for tag, state in states.items() if _owner_alive(state))
    links, namespaces = _existing_links_and_namespaces()
    removed = []
    for netns in namespaces:
        match = _NAME_RE.match(netns)
        if match and match.group(1) not in live:
            _kill_namespace_processes(netns)
            _run(["ip", "netns", "del", netns], check=False)
            removed.append(netns)
    for link in links:
        match = _NAME_RE.match(link)
        if match and match.group(1) not in live:
            _run(["ip", "link", "del", link], check=False)
            removed.append(link)
    for tag, state in states.items():
        if tag in live:
            continue
        work_dir = state.get("work_dir", "")
        if os.path.basename(work_dir).startswith(PREFIX) and os.path.isdir(work_dir):
            _close_control_masters(os.path.join(work_dir, "cp"))
            shutil.rmtree(work_dir, ignore_errors=True)
        try:
            os.unlink(os.path.join(STATE_DIR, tag + ".json"))
        except OSError:
            pass
    return removed


def account_files(user, uid, home, passwd, group, shadow, sudoers, days_since_epoch):
    """Texts of /etc/passwd, group, shadow and sudoers with ``user`` (uid = gid) added.

    Pure: the inputs are the machine's files as text (``sudoers`` None when the machine has none).
    The shadow entry is ``*`` (no password, but not locked: ``!`` would make sshd refuse even
    key logins when PAM is off). sudo is passwordless, as an operations team sets up automation.
    """
    for kind, text, position, value in (("user", passwd, 0, user), ("uid", passwd, 2, str(uid)),
                                        ("group", group, 0, user), ("gid", group, 2, str(uid))):
        for line in text.splitlines():
            fields = line.split(":")
            if len(fields) > position and fields[position] == value:
                raise HarnessError("%s %s already exists on this machine (%r); pass another user=/uid= so "
                                   "the test user is the harness's own" % (kind, value, line))

    def added(text, line):
        return text + ("" if text.endswith("\n") or not text else "\n") + line + "\n"

    if sudoers is None:  # sudo installed without its Debian defaults file
        sudoers = ('Defaults\tenv_reset\nDefaults\tsecure_path="/usr/local/sbin:/usr/local/bin:/usr/sbin:'
                   '/usr/bin:/sbin:/bin"\nroot\tALL=(ALL:ALL) ALL\n')
    return {
        "passwd": added(passwd, "%s:x:%d:%d:MLPerf Storage test user:%s:/bin/bash" % (user, uid, uid, home)),
        "group": added(group, "%s:x:%d:" % (user, uid)),
        "shadow": added(shadow, "%s:*:%d:0:99999:7:::" % (user, days_since_epoch)),
        "sudoers": added(sudoers, "%s ALL=(ALL) NOPASSWD: ALL" % user),
    }


class Host:
    """One test host. ``work_dir`` is private to it on the shared filesystem.

    ``name`` is its hostname (resolvable inside the hosts); ``inventory_name`` the name the
    inventory gives it (the same unless an inventory prefix makes it resolve nowhere).
    """

    def __init__(self, index, name, address, netns, veth, work_dir, data_source, inventory_name=None):
        self.index = index
        self.name = name
        self.inventory_name = inventory_name or name
        self.address = address
        self.netns = netns
        self.veth = veth
        self.work_dir = work_dir
        self.data_source = data_source  # the real directory mounted at NetnsHosts.data_dir
        self.scratch_source = os.path.join(os.path.dirname(work_dir), "scratch")  # mounted at NetnsHosts.scratch_dir
        self.sshd = None  # subprocess.Popen of its sshd

    def __repr__(self):
        return "Host(%s, %s)" % (self.name, self.address)


def _in_work_dir(name, doc=None):
    """A read-only attribute of :class:`NetnsHosts`: the path ``name`` in its work directory."""
    return property(lambda self: os.path.join(self.work_dir, name), doc=doc)


class NetnsHosts:
    """``n`` SSH test hosts; use as a context manager (teardown always runs) or call start/close.

    ``shared_data``: True gives every host the same :attr:`data_dir`; False mounts a per-host
    directory at that same path (``host.data_source`` is where the controller sees each one).
    ``python``: interpreter Ansible uses on the hosts (default: the one running this code).

    ``ops=True`` turns on the operated-cluster defaults below; each can also be set on its own:

    * ``ssh_port`` (ops: 2222, else 22): the only port sshd listens on;
    * ``user`` (ops: ``mlops``, else ``root``) and ``uid`` (ops: 4242, gid the same): the remote
      user; a non-root user exists only inside the hosts, logs in by key and becomes root with
      passwordless sudo; root cannot log in over SSH then;
    * ``inventory_prefix`` (ops: ``ops``, else none): inventory names are ``<prefix><hostname>``
      (``opsnode1``), known to no resolver or ssh config, so the inventory sets ``ansible_host``
      and ``mlperf_mpi_host`` to the address. Hostnames stay ``node1..``, resolvable inside.
    """

    def __init__(self, n=3, shared_data=True, name_prefix="node", python=None, subnet_base=SUBNET_BASE,
                 ops=False, ssh_port=None, user=None, uid=None, inventory_prefix=None):
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 250:
            raise HarnessError("n must be a whole number of hosts from 1 to 250, got %r" % (n,))
        if not _PREFIX_RE.match(name_prefix or ""):
            raise HarnessError("name_prefix %r must be lower-case letters, digits and '-', "
                               "starting with a letter (host names are <prefix><i>)" % (name_prefix,))
        ssh_port = ssh_port if ssh_port is not None else (OPS_SSH_PORT if ops else 22)
        if isinstance(ssh_port, bool) or not isinstance(ssh_port, int) or not 1 <= ssh_port <= 65535:
            raise HarnessError("ssh_port must be a TCP port number from 1 to 65535, got %r" % (ssh_port,))
        user = user if user is not None else (OPS_USER if ops else "root")
        if not _USER_RE.match(user):
            raise HarnessError("user %r must be a POSIX user name (lower-case letters, digits, '_', '-')" % (user,))
        if user == "root":
            if uid not in (None, 0):
                raise HarnessError("user 'root' has uid 0, got uid=%r" % (uid,))
            uid = 0
        else:
            uid = uid if uid is not None else OPS_UID
            if isinstance(uid, bool) or not isinstance(uid, int) or not 1000 <= uid <= 60000:
                raise HarnessError("uid of the test user must be a whole number from 1000 to 60000 "
                                   "(a regular user), got %r" % (uid,))
        if inventory_prefix is None:
            inventory_prefix = OPS_INVENTORY_PREFIX if ops else ""
        if inventory_prefix and not _PREFIX_RE.match(inventory_prefix):
            raise HarnessError("inventory_prefix %r must be lower-case letters, digits and '-', starting with "
                               "a letter (inventory names are <inventory_prefix><hostname>)" % (inventory_prefix,))
        self.n = n
        self.shared_data = shared_data
        self.name_prefix = name_prefix
        self.python = python or sys.executable
        self.subnet_base = subnet_base
        self.ops = ops
        self.ssh_port = ssh_port
        self.user = user
        self.uid = uid
        self.gid = uid
        self.inventory_prefix = inventory_prefix
        self.tag = None
        self.hosts = []
        self.bridge = None
        self.network = None
        self.work_dir = None
        self._started = False
        self._closed = False

    @property
    def become(self):
        """True when the remote user is not root (the inventory sets sudo as the become method)."""
        return self.user != "root"

    @property
    def root_overlay(self):
        """True when /root is overlaid (mode 0711) inside the hosts so the user reaches interpreters there."""
        return self.become and not os.stat("/root").st_mode & 0o001

    @property
    def names_resolve(self):
        """True when the inventory names are the hostnames (resolvable inside the hosts)."""
        return not self.inventory_prefix

    # --- paths ----------------------------------------------------------------------------

    def _path(self, *parts):
        return os.path.join(self.work_dir, *parts)

    data_dir = _in_work_dir("data", "Same path on every host; shared or per-host content depending on ``shared_data``.")
    scratch_dir = _in_work_dir("scratch", "Same path on every host, each host's own content (host.scratch_source).")
    client_key = _in_work_dir("id_ed25519")
    known_hosts = _in_work_dir("known_hosts")
    ssh_config = _in_work_dir("ssh_config", "ssh client config for the controller: ``ssh -F <this> node2``.")
    hosts_file = _in_work_dir("hosts", "/etc/hosts-style name list; the hosts see it as their /etc/hosts.")
    inventory_path = _in_work_dir("inventory.yml")
    control_path_dir = _in_work_dir("cp")

    @property
    def home(self):
        """The remote user's home: one directory for all hosts, as a shared home on a cluster."""
        return "/root" if not self.become else self._path("home", self.user)

    def host(self, name):
        """The :class:`Host` called ``name`` (its hostname or its inventory name)."""
        for host in self.hosts:
            if name in (host.name, host.inventory_name):
                return host
        raise HarnessError("no test host called %r; hosts are %s"
                           % (name, ", ".join(h.inventory_name for h in self.hosts)))

    # --- lifecycle ------------------------------------------------------------------------

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc_info):
        self.close()
        return False

    def start(self):
        if self._started:
            raise HarnessError("this harness was already started; create a new NetnsHosts for new hosts")
        self._started = True
        reasons = missing_prerequisites(need_sudo=self.become)
        if reasons:
            raise HarnessError("cannot create test hosts: " + "; ".join(reasons))
        try:
            self._claim_subnet()
            self._write_client_files()
            if self.become:
                self._write_account_files()
            for host in self.hosts:
                self._create_host(host)
            for host in self.hosts:
                self._wait_for_sshd(host)
        except BaseException:
            self.close()
            raise
        return self

    def close(self):
        """Kill every process in the hosts, delete namespaces, veths, bridge and temp files. Idempotent."""
        if self._closed or self.tag is None:
            self._closed = True
            return
        self._closed = True
        _close_control_masters(self.control_path_dir)
        for host in self.hosts:
            if host.sshd is not None and host.sshd.poll() is None:
                host.sshd.terminate()
        for host in self.hosts:
            if host.sshd is not None:
                try:
                    host.sshd.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    host.sshd.kill()
                    host.sshd.wait(timeout=5)
            _kill_namespace_processes(host.netns)
            _run(["ip", "netns", "del", host.netns], check=False)
            _run(["ip", "link", "del", host.veth], check=False)
        _run(["ip", "link", "del", self.bridge], check=False)
        shutil.rmtree(self.work_dir, ignore_errors=True)
        try:
            os.unlink(os.path.join(STATE_DIR, self.tag + ".json"))
        except OSError:
            pass

    def _claim_subnet(self):
        """Pick a free 10.231.<k>.0/24 and create the bridge, under a lock shared by all harnesses."""
        os.makedirs(STATE_DIR, exist_ok=True)
        with open(os.path.join(STATE_DIR, "lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            cleanup_stale()
            used = _claimed_networks()
            links, namespaces = _existing_links_and_namespaces()
            taken = set(_NAME_RE.match(n).group(1) for n in links + namespaces if _NAME_RE.match(n))
            taken.update(_read_states())
            for k in range(256):
                network = ipaddress.ip_network("%s.%d.0/24" % (self.subnet_base, k))
                if str(k) not in taken and not any(network.overlaps(net) for net in used):
                    break
            else:
                raise HarnessError(
                    "no free /24 under %s.0.0/16: every one overlaps an address or route of this machine "
                    "or a running harness; pass subnet_base='10.<n>' naming an unused /16"
                    % self.subnet_base)
            self._layout(str(k), tempfile.mkdtemp(prefix="%s%s-" % (PREFIX, k)))
            with open(os.path.join(STATE_DIR, self.tag + ".json"), "w") as handle:
                json.dump({"pid": os.getpid(), "pid_start": _process_start_time(os.getpid()),
                           "work_dir": self.work_dir}, handle)
            _run(["ip", "link", "add", self.bridge, "type", "bridge"])
        _run(["ip", "addr", "add", "%s/24" % self.controller_address, "dev", self.bridge])
        _run(["ip", "link", "set", self.bridge, "up"])

    def _layout(self, tag, work_dir):
        """Names, addresses and paths of harness ``tag`` in ``work_dir`` (creates nothing)."""
        self.tag = tag
        self.network = ipaddress.ip_network("%s.%s.0/24" % (self.subnet_base, tag))
        self.bridge = "%s%sbr" % (PREFIX, tag)
        self.work_dir = work_dir
        self.hosts = []
        for i in range(1, self.n + 1):
            name = "%s%d" % (self.name_prefix, i)
            host_dir = self._path("nodes", name)
            data_source = self.data_dir if self.shared_data else os.path.join(host_dir, "data")
            self.hosts.append(Host(i, name, str(self.network.network_address + i), "%s%sn%d" % (PREFIX, tag, i),
                                   "%s%sv%d" % (PREFIX, tag, i), os.path.join(host_dir, "work"), data_source,
                                   inventory_name=self.inventory_prefix + name))

    @property
    def controller_address(self):
        """The bridge's address: where the hosts reach the machine itself."""
        return str(self.network.network_address + 254)

    def _write(self, relative, text, mode=0o644):
        path = self._path(relative)
        with open(path, "w") as handle:
            handle.write(text)
        os.chmod(path, mode)
        return path

    def _write_client_files(self):
        for path in (self.data_dir, self.scratch_dir, self.control_path_dir):
            os.makedirs(path, exist_ok=True)
        if self.become:
            # mkdtemp made the harness dir 0700: the user must get through it to its home, the data
            # and work dirs and the shared authorized_keys (the client key itself stays 0600)
            os.chmod(self.work_dir, 0o755)
        _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "mlperf-storage-test-client", "-f", self.client_key])
        known = []
        for host in self.hosts:
            os.makedirs(host.work_dir, exist_ok=True)
            os.makedirs(host.data_source, exist_ok=True)
            os.makedirs(host.scratch_source, exist_ok=True)
            key = os.path.join(os.path.dirname(host.work_dir), "ssh_host_ed25519_key")
            _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", host.name, "-f", key])
            with open(key + ".pub") as handle:
                key_type, key_data = handle.read().split()[:2]
            known.append("%s %s %s" % (",".join(self._known_hosts_names(host)), key_type, key_data))
        self._write("known_hosts", "\n".join(known) + "\n")
        with open(self.client_key + ".pub") as handle:
            # sshd reads AuthorizedKeysFile as the user logging in, so a non-root user needs read access
            self._write("authorized_keys", handle.read(), 0o644 if self.become else 0o600)
        names = ["127.0.0.1 localhost", "::1 localhost ip6-localhost ip6-loopback"]
        # hostnames only: inventory names with a prefix are the controller's aliases, unknown to the hosts
        names += ["%s %s" % (host.address, host.name) for host in self.hosts]
        self._write("hosts", "\n".join(names) + "\n")
        common = [
            "    Port %d" % self.ssh_port,  # what a plain 'ssh 10.231.k.2' (MPI's launch) must use
            "    IdentitiesOnly yes",
            "    UserKnownHostsFile %s" % self.known_hosts,
            "    GlobalKnownHostsFile /dev/null",
            "    StrictHostKeyChecking yes",
            "    BatchMode yes",
            "    ConnectTimeout 5",
            "    ServerAliveInterval 2",
            "    ServerAliveCountMax 3",
            "    LogLevel ERROR",
        ]
        controller = ["    User %s" % self.user, "    IdentityFile %s" % self.client_key]
        if self.become:
            # inside the hosts ssh logs in as whoever runs it, with that user's own key, as on a cluster
            # with shared homes; root has no way in (sshd refuses root logins then)
            inside = ["    IdentityFile ~/.ssh/id_ed25519"]
            self._write_home()
        else:
            inside = controller
        # Inside the hosts names resolve through their /etc/hosts; the controller needs HostName.
        self._write("ssh_config_hosts", "Host *\n" + "\n".join(inside + common) + "\n")
        aliases = ""
        if self.names_resolve:  # with an inventory prefix the controller knows the hosts by address only
            aliases = "\n".join("Host %s\n    HostName %s" % (host.name, host.address) for host in self.hosts)
            aliases += "\n\n"
        self._write("ssh_config", aliases + "Host *\n" + "\n".join(controller + common) + "\n")
        self._write("inventory.yml", self.inventory_text())
        if self.become:
            for path in [self.data_dir, self.scratch_dir] + [p for h in self.hosts
                                                             for p in (h.data_source, h.work_dir, h.scratch_source)]:
                os.chown(path, self.uid, self.gid)

    def _known_hosts_names(self, host):
        """known_hosts names of ``host``: ssh looks up ``[address]:port`` when the port is not 22."""
        names = (host.name, host.address)
        if self.ssh_port == 22:
            return names
        return tuple("[%s]:%d" % (name, self.ssh_port) for name in names)

    def _write_home(self):
        """The user's home with its own copy of the client key (the harness's key file is root's 0600)."""
        ssh_dir = os.path.join(self.home, ".ssh")
        os.makedirs(ssh_dir, mode=0o700)
        for suffix, mode in (("", 0o600), (".pub", 0o644)):
            target = os.path.join(ssh_dir, "id_ed25519" + suffix)
            shutil.copyfile(self.client_key + suffix, target)
            os.chmod(target, mode)
        for root, dirs, files in os.walk(self.home):
            for entry in [root] + [os.path.join(root, f) for f in files]:
                os.chown(entry, self.uid, self.gid)
        os.chmod(self.home, 0o700)

    def _write_account_files(self):
        """passwd/group/shadow/sudoers copies with the user added; bind-mounted over /etc in each host."""
        def read(path):
            try:
                with open(path) as handle:
                    return handle.read()
            except FileNotFoundError:
                return None

        texts = account_files(self.user, self.uid, self.home, read("/etc/passwd") or "", read("/etc/group") or "",
                              read("/etc/shadow") or "", read("/etc/sudoers"), int(time.time() // 86400))
        os.makedirs(self._path("etc"), exist_ok=True)
        for name, text in texts.items():
            path = self._path("etc", name)
            with open(path, "w") as handle:
                handle.write(text)
            original = "/etc/" + name
            if os.path.exists(original):  # same owner and mode as the real file (shadow: root:shadow 0640)
                info = os.stat(original)
                os.chown(path, info.st_uid, info.st_gid)
                os.chmod(path, info.st_mode & 0o7777)
            else:
                os.chmod(path, 0o440 if name == "sudoers" else 0o644)
        os.chmod(self._path("etc", "sudoers"), 0o440)  # sudo refuses a sudoers file anyone may write
        os.chown(self._path("etc", "sudoers"), 0, 0)

    def _account_mounts(self, host):
        """(source, target) bind mounts that give a host the test user; empty for root."""
        if not self.become:
            return []
        return [(self._path("etc", name), "/etc/" + name) for name in ("passwd", "group", "shadow", "sudoers")]

    def inventory(self):
        """The YAML inventory as data: group ``clients`` holding every host (by inventory name)."""
        hosts = {}
        for host in self.hosts:
            hosts[host.inventory_name] = {"ansible_host": host.address}
            if not self.names_resolve:  # MPI must be given a name that works on the hosts: the address
                hosts[host.inventory_name]["mlperf_mpi_host"] = host.address
        group_vars = {
            "ansible_user": self.user,
            "ansible_ssh_private_key_file": self.client_key,
            # ServerAlive: a cut host shows up as unreachable within ~6 s, also through a
            # persisted control master, instead of hanging until TCP gives up
            "ansible_ssh_common_args": "-o UserKnownHostsFile=%s -o StrictHostKeyChecking=yes "
                                       "-o IdentitiesOnly=yes -o ServerAliveInterval=2 "
                                       "-o ServerAliveCountMax=3" % self.known_hosts,
            # the harness's own ControlPersist sockets, closed at teardown (addresses get reused)
            "ansible_control_path_dir": self.control_path_dir,
            "ansible_python_interpreter": self.python,
        }
        if self.ssh_port != 22:
            group_vars["ansible_port"] = self.ssh_port
        if self.become:
            # the method only: tasks that need root say become themselves, the rest run as the user
            group_vars["ansible_become_method"] = "sudo"
        return {"all": {"children": {"clients": {"hosts": hosts, "vars": group_vars}}}}

    def inventory_text(self):
        return json.dumps(self.inventory(), indent=2) + "\n"  # JSON is YAML

    def _create_host(self, host):
        _run(["ip", "netns", "add", host.netns])
        _run(["ip", "link", "add", host.veth, "type", "veth", "peer", "name", "eth0", "netns", host.netns])
        _run(["ip", "link", "set", host.veth, "master", self.bridge, "up"])
        _run(["ip", "-n", host.netns, "addr", "add", "%s/24" % host.address, "dev", "eth0"])
        _run(["ip", "-n", host.netns, "link", "set", "eth0", "up"])
        _run(["ip", "-n", host.netns, "link", "set", "lo", "up"])
        host_dir = os.path.dirname(host.work_dir)
        config = [
            "Port %d" % self.ssh_port,
            "ListenAddress %s:%d" % (host.address, self.ssh_port),  # that port only: nothing answers on 22
            "HostKey %s" % os.path.join(host_dir, "ssh_host_ed25519_key"),
            "PidFile %s" % os.path.join(host_dir, "sshd.pid"),
            "AuthorizedKeysFile %s" % self._path("authorized_keys"),
            "StrictModes no",  # keys live in a temp dir, not in a home with sshd's expected modes
            "UsePAM no",
            # a cluster with an automation user does not let root in over SSH
            "PermitRootLogin %s" % ("no" if self.become else "prohibit-password"),
            "PubkeyAuthentication yes",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "UseDNS no",
            "X11Forwarding no",
            "PrintMotd no",
            "MaxStartups 200:30:400",  # mpirun and Ansible forks open many sessions at once
            "MaxSessions 100",
            # the hosts share one kernel (one boot id), so UCX takes them for one machine and would use shared
            # memory between ranks of different hosts, which their separate process namespaces break; real
            # machines differ in boot id and never take that path
            "SetEnv UCX_TLS=^shm,cma",
            "Subsystem sftp %s" % SFTP_SERVER,
        ]
        sshd_config = os.path.join(host_dir, "sshd_config")
        with open(sshd_config, "w") as handle:
            handle.write("\n".join(config) + "\n")
        mounts = [(self.hosts_file, "/etc/hosts"), (self._path("ssh_config_hosts"), "/etc/ssh/ssh_config")]
        mounts += self._account_mounts(host)
        if not self.shared_data:
            mounts.append((host.data_source, self.data_dir))
        mounts.append((host.scratch_source, self.scratch_dir))
        script = "hostname %s" % shlex.quote(host.name)
        for source, target in mounts:
            script += " && mount --bind %s %s" % (shlex.quote(source), shlex.quote(target))
        if self.root_overlay:
            # Interpreters here may live under /root (a pyenv; the benchmark venv links to it) and /root
            # is 0700: the user could not run them. Overlay /root inside the host with an upper dir of
            # mode 0711 (traversable, not listable); the real /root is untouched, and writes to /root
            # inside the host land in the harness dir.
            upper, work = os.path.join(host_dir, "root-upper"), os.path.join(host_dir, "root-work")
            os.makedirs(work)
            os.mkdir(upper, 0o711)
            os.chmod(upper, 0o711)
            script += " && mount -t overlay overlay -o %s /root" % shlex.quote(
                "lowerdir=/root,upperdir=%s,workdir=%s" % (upper, work))
        script += " && exec %s -D -e -f %s" % (SSHD, shlex.quote(sshd_config))
        os.makedirs("/run/sshd", exist_ok=True)  # sshd's privilege-separation directory
        log = open(os.path.join(host_dir, "sshd.log"), "w")
        try:
            host.sshd = subprocess.Popen(
                # a process namespace of its own too: like a real machine, a host sees and can signal only its
                # own processes (cleanup that scans /proc must not reach other hosts' ranks); --kill-child ends
                # sshd, and with it every process of the host, when the harness stops this launcher
                ["ip", "netns", "exec", host.netns, "unshare", "--uts", "--mount", "--propagation", "private",
                 "--pid", "--kill-child", "--mount-proc", "sh", "-c", script],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        finally:
            log.close()

    def _wait_for_sshd(self, host, timeout=15):
        deadline = time.monotonic() + timeout
        while True:
            if host.sshd.poll() is not None:
                raise HarnessError("sshd of %s exited with %s: %s"
                                   % (host.name, host.sshd.returncode, self.sshd_log(host)[-2000:]))
            try:
                with socket.create_connection((host.address, self.ssh_port), timeout=1) as conn:
                    if conn.recv(64).startswith(b"SSH-"):
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise HarnessError("sshd of %s (%s port %d) not answering after %ss: %s"
                                   % (host.name, host.address, self.ssh_port, timeout,
                                      self.sshd_log(host)[-2000:]))
            time.sleep(0.05)

    def sshd_log(self, host):
        try:
            with open(os.path.join(os.path.dirname(host.work_dir), "sshd.log")) as handle:
                return handle.read()
        except OSError:
            return ""

    # --- driving the hosts ----------------------------------------------------------------

    def ssh_argv(self, host, command, connect_timeout=5):
        """argv that runs shell ``command`` on ``host`` (hostname or inventory name) over SSH from the
        controller, as :attr:`user` on :attr:`ssh_port`."""
        target = self.host(host).address  # by address: inventory names may resolve nowhere
        return ["ssh", "-F", self.ssh_config, "-o", "ConnectTimeout=%d" % connect_timeout, target, command]

    def ssh(self, host, command, timeout=60, connect_timeout=5):
        """Run shell ``command`` on ``host`` over SSH; returns the CompletedProcess (text)."""
        argv = self.ssh_argv(host, command, connect_timeout)
        try:
            return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  stdin=subprocess.DEVNULL, timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            raise HarnessError("'%s' on %s did not finish within %ss" % (command, host, timeout)) from exc

    def inner_pid(self, host):
        """Pid (as seen from here) of the host's first process, inside its own process namespace: its sshd."""
        outer = self.host(host).sshd.pid  # `unshare`, which stays outside and waits for its child
        deadline = time.monotonic() + 5
        while True:
            try:
                with open("/proc/%d/task/%d/children" % (outer, outer)) as handle:
                    children = handle.read().split()
            except OSError:
                children = []
            if children:
                return int(children[0])
            if time.monotonic() > deadline:
                raise HarnessError("%s has no process inside its namespace (sshd exited?): %s"
                                   % (host, self.sshd_log(self.host(host))[-1000:]))
            time.sleep(0.05)

    def outer_pid(self, host, pid):
        """The pid, as seen from here, of the process that ``host`` knows as ``pid`` (a pid file written inside a
        host holds its own namespace's number)."""
        netns = self.host(host).netns
        for candidate in _run(["ip", "netns", "pids", netns], check=False).stdout.split():
            try:
                with open("/proc/%s/status" % candidate) as handle:
                    nspid = next(line.split()[1:] for line in handle if line.startswith("NSpid:"))
            except (OSError, StopIteration):
                continue
            if nspid and nspid[-1] == str(pid):
                return int(candidate)
        raise HarnessError("no process %s inside %s" % (pid, host))

    def exec_argv(self, host, argv):
        """argv that runs ``argv`` inside ``host``'s namespaces (network, mounts, hostname, processes) without
        SSH."""
        pid = self.inner_pid(host)
        return ["nsenter", "--target", str(pid), "--net", "--mount", "--uts", "--pid", "--"] + list(argv)

    def cut(self, host):
        """Take ``host`` off the network (its bridge port goes down); its processes keep running."""
        _run(["ip", "link", "set", self.host(host).veth, "down"])

    def restore(self, host):
        """Put ``host`` back on the network after :meth:`cut`."""
        _run(["ip", "link", "set", self.host(host).veth, "up"])


def _main(argv):
    if len(argv) == 2 and argv[1] == "cleanup":
        print("\n".join(cleanup_stale()) or "nothing to clean")
        return 0
    args = argv[1:]
    ops = "--ops" in args
    args = [arg for arg in args if arg != "--ops"]
    if len(args) in (1, 2) and args[0] == "up" and (len(args) == 1 or args[1].isdigit()):
        def interrupted(_signum, _frame):
            raise KeyboardInterrupt

        # started in the background (molecule create, `&`), SIGINT is ignored: SIGTERM must tear down too
        signal.signal(signal.SIGINT, interrupted)
        signal.signal(signal.SIGTERM, interrupted)
        with NetnsHosts(n=int(args[1]) if len(args) == 2 else 3, ops=ops) as harness:
            print("hosts: %s\ninventory: %s\nssh: ssh -F %s %s\nCtrl-C or SIGTERM tears them down"
                  % (", ".join("%s=%s" % (h.inventory_name, h.address) for h in harness.hosts),
                     harness.inventory_path, harness.ssh_config, harness.hosts[0].address), flush=True)
            try:
                signal.pause()
            except KeyboardInterrupt:
                pass
        return 0
    print("usage: netns.py cleanup | up [N] [--ops]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(_main(sys.argv))
