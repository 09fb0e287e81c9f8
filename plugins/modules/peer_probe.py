#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: peer_probe
short_description: Check that a launcher host can resolve and reach other hosts over SSH
version_added: "0.1.0"
description:
  - Run on the MPI launcher. For each peer, asks the ssh client where it would connect (C(ssh -G <host>), the
    real host name and port after the ssh configs), resolves that name and runs
    C(ssh -o BatchMode=yes <host> true), which is what MPI does to start ranks there. No password or host-key
    prompt can hang it.
  - Problems are reported per peer in the result, not as a failure.
extends_documentation_fragment:
  - mlperf.storage.common
  - mlperf.storage.common.check_mode_full
options:
  peers:
    description:
      - Peers to probe. Each is a name as MPI will be given it, or a dict C({name, host}) where C(host) is the
        name MPI will be given (C(mlperf_mpi_host), often an address) and C(name) the inventory name under
        which the result is reported.
    type: list
    elements: raw
    required: true
  ssh_args:
    description: Extra C(ssh) arguments, for example C(-F /path/ssh_config).
    type: list
    elements: str
    default: []
  timeout:
    description: Seconds to wait for each SSH connection.
    type: int
    default: 5
"""

EXAMPLES = r"""
- name: Check SSH from the launcher to the other clients
  mlperf.storage.peer_probe:
    peers:
      - {name: node2, host: 10.0.0.12}
      - {name: node3, host: 10.0.0.13}
  register: peers
"""

RETURN = r"""
peers:
  description: One entry per peer.
  returned: always
  type: dict
  sample: {"node2": {"host": "10.0.0.12", "hostname": "10.0.0.12", "port": 2222, "resolves": true,
           "address": "10.0.0.12", "ssh_ok": true, "error": null}}
all_ok:
  description: True when every peer resolves and answers over SSH.
  returned: always
  type: bool
"""

import socket
import subprocess
from concurrent.futures import ThreadPoolExecutor

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.mlperf.storage.plugins.module_utils import _ssh

# peers probed at once: the launcher's ssh connections, not the cluster's size, bound the probe's time
PARALLEL = 32


def _peer(item):
    if isinstance(item, dict) and item.get("name"):
        return str(item["name"]), str(item.get("host") or item["name"])
    if isinstance(item, str) and item:
        return item, item
    raise ValueError("each peer must be a name or a dict with name and host, got %r" % (item,))


def probe(host, ssh, ssh_args, timeout):
    """One peer: the name and port ssh really uses (ssh -G), whether the name resolves, and a BatchMode ssh."""
    target = _ssh.ssh_target(host, ssh_args=ssh_args, ssh_bin=ssh)  # no ssh: name, port 22
    entry = {"host": host, "hostname": target["hostname"], "port": target["port"], "resolves": False,
             "address": None, "ssh_ok": False, "error": None}
    try:
        entry["address"] = socket.getaddrinfo(target["hostname"], target["port"], proto=socket.IPPROTO_TCP)[0][4][0]
        entry["resolves"] = True
    except (socket.gaierror, IndexError) as exc:
        entry["error"] = "name %s does not resolve: %s" % (target["hostname"], exc)
    if ssh is None:
        # without an ssh client every peer fails the same way; say so per peer instead of failing the task
        if entry["resolves"]:
            entry["error"] = "no ssh client on this host (MPI starts ranks over ssh; install openssh-client)"
    elif entry["resolves"] or ssh_args:
        argv = [ssh, "-o", "BatchMode=yes", "-o", "ConnectTimeout=%d" % timeout] + list(ssh_args) + [host, "true"]
        try:
            proc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True, timeout=timeout + 30)
            rc, out, err = proc.returncode, proc.stdout, proc.stderr
        except subprocess.TimeoutExpired:
            rc, out, err = -1, "", "no answer within %d s" % (timeout + 30)
        if rc == 0:
            entry["ssh_ok"] = True
            entry["error"] = None
        else:
            lines = (err or out).strip().splitlines()
            entry["error"] = "ssh to %s (port %s) exited %d: %s" % (
                host, entry["port"], rc, lines[-1] if lines else "no output")
    return entry


def main():
    module = AnsibleModule(
        argument_spec=dict(
            peers=dict(type="list", elements="raw", required=True),
            ssh_args=dict(type="list", elements="str", default=[]),
            timeout=dict(type="int", default=5),
        ),
        supports_check_mode=True,
    )
    try:
        peers = [_peer(item) for item in module.params["peers"]]
    except ValueError as exc:
        module.fail_json(msg="peers: %s" % exc)
    ssh = module.get_bin_path("ssh")
    params = module.params
    # the peers at once (one ssh -G and one ssh each): probed one after another they cost the launcher a
    # connection time per client
    with ThreadPoolExecutor(max_workers=max(1, min(PARALLEL, len(peers)))) as pool:
        entries = list(pool.map(lambda peer: probe(peer[1], ssh, params["ssh_args"], params["timeout"]), peers))
    results = dict((name, entry) for (name, _), entry in zip(peers, entries))
    module.exit_json(changed=False, peers=results,
                     all_ok=all(e["ssh_ok"] for e in results.values()))


if __name__ == "__main__":
    main()
