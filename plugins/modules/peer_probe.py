#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
---
module: peer_probe
short_description: Check that a launcher host can resolve and reach other hosts over SSH
version_added: "0.1.0"
description:
  - Run on the MPI launcher. For each peer, resolves its name and runs C(ssh -o BatchMode=yes <peer> true),
    which is what MPI does to start ranks there. No password or host-key prompt can hang it.
  - Problems are reported per peer in the result, not as a failure.
options:
  peers:
    description: Host names (as MPI will be given them) to probe.
    type: list
    elements: str
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
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
author:
  - mlperf.storage contributors
"""

EXAMPLES = r"""
- name: Check SSH from the launcher to the other clients
  mlperf.storage.peer_probe:
    peers: "{{ groups['clients'] | difference([inventory_hostname]) }}"
  register: peers
"""

RETURN = r"""
peers:
  description: One entry per peer.
  returned: always
  type: dict
  sample: {"node2": {"resolves": true, "address": "10.0.0.12", "ssh_ok": true, "error": null}}
all_ok:
  description: True when every peer resolves and answers over SSH.
  returned: always
  type: bool
"""

import socket

from ansible.module_utils.basic import AnsibleModule


def main():
    module = AnsibleModule(
        argument_spec=dict(
            peers=dict(type="list", elements="str", required=True),
            ssh_args=dict(type="list", elements="str", default=[]),
            timeout=dict(type="int", default=5),
        ),
        supports_check_mode=True,
    )
    results = {}
    # without an ssh client every peer fails the same way; say so per peer instead of failing the task
    ssh = module.get_bin_path("ssh")
    for peer in module.params["peers"]:
        entry = {"resolves": False, "address": None, "ssh_ok": False, "error": None}
        try:
            entry["address"] = socket.getaddrinfo(peer, 22, proto=socket.IPPROTO_TCP)[0][4][0]
            entry["resolves"] = True
        except (socket.gaierror, IndexError) as exc:
            entry["error"] = "name does not resolve: %s" % exc
        if ssh is None:
            if entry["resolves"]:
                entry["error"] = "no ssh client on this host (MPI starts ranks over ssh; install openssh-client)"
        elif entry["resolves"] or module.params["ssh_args"]:
            argv = [ssh, "-o", "BatchMode=yes", "-o", "ConnectTimeout=%d" % module.params["timeout"]]
            argv += module.params["ssh_args"] + [peer, "true"]
            rc, out, err = module.run_command(argv)
            if rc == 0:
                entry["ssh_ok"] = True
                entry["error"] = None
            else:
                lines = (err or out).strip().splitlines()
                entry["error"] = "ssh exited %d: %s" % (rc, lines[-1] if lines else "no output")
        results[peer] = entry
    module.exit_json(changed=False, peers=results,
                     all_ok=all(e["ssh_ok"] for e in results.values()))


if __name__ == "__main__":
    main()
