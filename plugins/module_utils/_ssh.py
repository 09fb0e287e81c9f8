# -*- coding: utf-8 -*-
# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where SSH (and so MPI, which starts its remote ranks over SSH) really connects for a peer name.

Target side, standard library only. ``ssh -G <name>`` prints the configuration the client would use after
applying ``~/.ssh/config`` and ``/etc/ssh/ssh_config``: the real host name and port. A cluster whose sshd
listens on another port, or whose MPI names are aliases in an ssh config, is then probed where MPI goes,
not on port 22 of a name that may not resolve.
"""
from __future__ import annotations

import shutil
import subprocess

DEFAULT_PORT = 22


def parse_ssh_g(text):
    """{hostname, port, user} from ``ssh -G`` output (keys are lower-case, one per line)."""
    found = {}
    for line in text.splitlines():
        key, _, value = line.strip().partition(" ")
        if key in ("hostname", "port", "user") and key not in found:
            found[key] = value.strip()
    port = found.get("port", "")
    return {"hostname": found.get("hostname") or None,
            "port": int(port) if port.isdigit() else None,
            "user": found.get("user") or None}


def ssh_target(name, ssh_args=(), ssh_bin=None, timeout=10):
    """{name, hostname, port, user, source} for peer ``name`` as this host's ssh client resolves it.

    ``source`` is ``ssh -G`` when the client answered, ``default`` when it could not (no ssh client, an old
    one without -G): then the name itself and port 22 are used, and ``error`` says why.
    """
    target = {"name": name, "hostname": name, "port": DEFAULT_PORT, "user": None, "source": "default",
              "error": None}
    ssh = ssh_bin or shutil.which("ssh")
    if not ssh:
        target["error"] = "no ssh client on this host"
        return target
    try:
        proc = subprocess.run([ssh] + list(ssh_args) + ["-G", name], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as exc:
        target["error"] = "ssh -G %s: %s" % (name, exc)
        return target
    if proc.returncode != 0:
        target["error"] = "ssh -G %s exited %d: %s" % (name, proc.returncode, proc.stderr.strip()[-200:])
        return target
    parsed = parse_ssh_g(proc.stdout)
    target.update(hostname=parsed["hostname"] or name, port=parsed["port"] or DEFAULT_PORT,
                  user=parsed["user"], source="ssh -G")
    return target
