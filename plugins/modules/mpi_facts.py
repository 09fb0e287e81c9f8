#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: mpi_facts
short_description: Detect the MPI implementation and version on a host
version_added: "0.1.0"
description:
  - Runs C(mpirun --version) from a directory and reports which implementation (Open MPI, MPICH, Intel MPI)
    and which version answered, as the fact C(mlperf_mpi).
  - A missing or broken C(mpirun) is reported in the fact (C(present=false) with the reason), not as a
    failure, so a preflight can collect the problems of every host before failing once.
options:
  bin_dir:
    description: Directory holding the MPI launcher.
    type: path
    required: true
  launcher:
    description: File name of the MPI launcher in O(bin_dir).
    type: str
    default: mpirun
extends_documentation_fragment:
  - mlperf.storage.common
  - mlperf.storage.common.facts
  - mlperf.storage.common.check_mode_full
"""

EXAMPLES = r"""
- name: Detect MPI in the benchmark environment
  mlperf.storage.mpi_facts:
    bin_dir: /opt/mlperf-storage/venv/bin

- name: Show it
  ansible.builtin.debug:
    msg: "{{ ansible_facts.mlperf_mpi.implementation }} {{ ansible_facts.mlperf_mpi.version }}"
"""

RETURN = r"""
ansible_facts:
  description: Facts about the MPI launcher.
  returned: always
  type: dict
  contains:
    mlperf_mpi:
      description: What answered C(mpirun --version).
      type: dict
      returned: always
      sample:
        present: true
        implementation: mpich
        version: "5.0.2"
        mpirun: /opt/mlperf-storage/venv/bin/mpirun
        bin_dir: /opt/mlperf-storage/venv/bin
        error: null
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.mlperf.storage.plugins.module_utils._mpi import detect_mpi


def main():
    module = AnsibleModule(
        argument_spec=dict(
            bin_dir=dict(type="path", required=True),
            launcher=dict(type="str", default="mpirun"),
        ),
        supports_check_mode=True,
    )
    mpirun = os.path.join(module.params["bin_dir"], module.params["launcher"])
    fact = {"present": False, "implementation": None, "version": None, "mpirun": mpirun,
            "bin_dir": module.params["bin_dir"], "error": None}
    if not os.access(mpirun, os.X_OK):
        fact["error"] = "%s does not exist or is not executable" % mpirun
    else:
        # PATH first in bin_dir: wheel-installed launchers find their helper programs there.
        env = {"PATH": module.params["bin_dir"] + os.pathsep + os.environ.get("PATH", "")}
        rc, out, err = module.run_command([mpirun, "--version"], environ_update=env)
        detected = detect_mpi(out + "\n" + err)
        if rc != 0 and detected["implementation"] == "unknown":
            fact["error"] = "%s --version exited %d: %s" % (mpirun, rc, (err or out).strip()[:300])
        else:
            fact.update(present=True, implementation=detected["implementation"], version=detected["version"])
            if detected["implementation"] == "unknown":
                fact["error"] = "unrecognised MPI: %s" % (out or err).strip().splitlines()[0][:200]
    module.exit_json(changed=False, ansible_facts={"mlperf_mpi": fact})


if __name__ == "__main__":
    main()
