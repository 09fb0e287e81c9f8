# -*- coding: utf-8 -*-
# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""MPI launcher knowledge: which implementation answered, and how to spell a launch for it.

Runs on target hosts and on the controller: Python 3.9+ standard library only.

The implementations differ in exactly the places users trip over:

==============  ==========================  =======================  ======================
                Open MPI (4.x, 5.x)         MPICH (hydra)            Intel MPI (hydra)
==============  ==========================  =======================  ======================
process count   ``-np N``                   ``-n N``                 ``-n N``
host list       ``-host a:2,b:2``           ``-hosts a:2,b:2``       ``-hosts a,b -ppn 2``
host file       ``--hostfile F``            ``-f F``                 ``-machinefile F``
file line       ``a slots=2``               ``a:2``                  ``a:2``
environment     ``-x NAME`` (value taken    ``-genv NAME VALUE``     ``-genv NAME VALUE``
                from the launcher's env)
running as root ``--allow-run-as-root``     nothing                  nothing
more ranks      ``--oversubscribe``         wraps round-robin        wraps round-robin
than slots
==============  ==========================  =======================  ======================

Intel MPI's ``-hosts`` takes bare names only (``a:2`` is read as a host called "a:2"), so uneven
slot counts there are given as one argument set per host (``-n 2 -host a prog : -n 4 -host b prog``)
or a machine file.

The launcher program (``mpirun`` or ``mpiexec``) takes the same flags within one implementation: Open MPI's
``mpiexec`` is its ``mpirun``; MPICH's and Intel MPI's are both hydra (Intel's ``mpirun`` wraps
``mpiexec.hydra``). Only its path differs, so callers pass it as ``mpirun``.
"""
from __future__ import annotations

import re

from ansible_collections.mlperf.storage.plugins.module_utils._engine import RUN_ID_VAR

OPENMPI = "openmpi"
MPICH = "mpich"
INTELMPI = "intelmpi"
UNKNOWN = "unknown"
IMPLEMENTATIONS = (OPENMPI, MPICH, INTELMPI)

# Checked in order: Intel MPI's launcher is a hydra derivative, so it must win over the MPICH test.
_INTEL_RE = re.compile(r"Intel\(R\) MPI Library[^\n]*?Version\s+(\d[\w.]*(?:\s+Update\s+\d+)?)")
_OPENMPI_RE = re.compile(r"\((?:Open MPI|OpenRTE)\)\s+(\d[\w.]*)")
_HYDRA_RE = re.compile(r"HYDRA build details:.*?^\s*Version:\s+(\d[\w.]*)", re.S | re.M)
_MPICHVERSION_RE = re.compile(r"^\s*MPICH Version:\s+(\d[\w.]*)", re.M)

# Names and values that survive every launcher's host-list syntax unquoted.
_HOST_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")
_ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def detect_mpi(version_output):
    """Tell which MPI implementation printed ``version_output`` (text of ``mpirun --version``).

    Returns ``{"implementation": "openmpi"|"mpich"|"intelmpi"|"unknown", "version": str}``;
    the version is "" when the implementation is unknown.
    """
    text = version_output if isinstance(version_output, str) else ""
    for implementation, pattern in (
        (INTELMPI, _INTEL_RE),
        (OPENMPI, _OPENMPI_RE),
        (MPICH, _HYDRA_RE),
        (MPICH, _MPICHVERSION_RE),
    ):
        match = pattern.search(text)
        if match:
            return {"implementation": implementation, "version": re.sub(r"\s+", " ", match.group(1))}
    return {"implementation": UNKNOWN, "version": ""}


def _check_implementation(implementation):
    if implementation not in IMPLEMENTATIONS:
        raise ValueError(
            "MPI implementation %r is not supported: expected one of %s. "
            "Detect it from 'mpirun --version' with detect_mpi(), or set it explicitly."
            % (implementation, ", ".join(IMPLEMENTATIONS))
        )


def _check_count(value, what, fix):
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError("%s must be a whole number greater than 0, got %r. %s" % (what, value, fix))


def _check_hosts(hosts):
    """Validate ``[(host, slots), ...]`` and return it as a list of tuples."""
    if isinstance(hosts, (str, bytes)) or not hosts:
        raise ValueError(
            "hosts must be a non-empty list of (host, slots) pairs, got %r. "
            "Example: [('node1', 2), ('node2', 2)]." % (hosts,)
        )
    checked = []
    seen = set()
    for position, entry in enumerate(hosts):
        if not isinstance(entry, (list, tuple)) or len(entry) != 2:
            raise ValueError(
                "hosts[%d] must be a (host, slots) pair, got %r. Example: ('node1', 2)." % (position, entry)
            )
        host, slots = entry
        if not isinstance(host, str) or not _HOST_RE.match(host):
            raise ValueError(
                "hosts[%d]: host name %r is not usable in an MPI host list: expected a host name or "
                "IPv4 address made of letters, digits, '.', '-' and '_' (no spaces, commas or colons)."
                % (position, host)
            )
        _check_count(slots, "hosts[%d] (%s): slots" % (position, host),
                     "Give the number of ranks this host may run, e.g. its accelerator count.")
        if host in seen:
            raise ValueError(
                "hosts[%d]: host %r is listed twice. List each host once with its total slot count."
                % (position, host)
            )
        seen.add(host)
        checked.append((host, slots))
    return checked


def _check_env(env):
    if env is None:
        return []
    if not isinstance(env, dict):
        raise ValueError("env must be a mapping of variable names to values, got %r." % (env,))
    items = []
    for name in sorted(env):
        if not isinstance(name, str) or not _ENV_NAME_RE.match(name):
            raise ValueError(
                "env: %r is not a valid environment variable name: expected letters, digits and '_', "
                "not starting with a digit." % (name,)
            )
        value = env[name]
        if value is None or isinstance(value, (dict, list, tuple)):
            raise ValueError(
                "env[%s] must be a string or number, got %r. Convert it to text first." % (name, value)
            )
        items.append((name, value if isinstance(value, str) else str(value)))
    return items


def _check_args(args, what, example):
    if isinstance(args, (str, bytes)) or not isinstance(args, (list, tuple)):
        raise ValueError(
            "%s must be a list of separate arguments, got %r. Example: %s." % (what, args, example)
        )
    for position, arg in enumerate(args):
        if not isinstance(arg, str):
            raise ValueError("%s[%d] must be a string, got %r." % (what, position, arg))
    return list(args)


def _uniform_slots(hosts):
    counts = set(slots for _, slots in hosts)
    return counts.pop() if len(counts) == 1 else None


def hostfile_text(implementation, hosts):
    """Text of a host file for ``implementation`` listing ``hosts`` (``[(host, slots), ...]``)."""
    _check_implementation(implementation)
    hosts = _check_hosts(hosts)
    if implementation == OPENMPI:
        lines = ["%s slots=%d" % (host, slots) for host, slots in hosts]
    else:  # MPICH -f and Intel MPI -machinefile both read host:count
        lines = ["%s:%d" % (host, slots) for host, slots in hosts]
    return "\n".join(lines) + "\n"


def launcher_env(implementation, env=None):
    """Variables the caller must set in the launcher's own environment for ``env`` to reach the ranks.

    Open MPI's ``-x NAME`` forwards the launcher's value, so the values go here; hydra launchers
    carry values on the command line (``-genv``) and need nothing.
    """
    _check_implementation(implementation)
    items = _check_env(env)
    return dict(items) if implementation == OPENMPI else {}


def build_mpi_command(implementation, hosts, np, program, mpirun="mpirun", env=None, run_as_root=False,
                      oversubscribe=False, extra_args=None, hostfile=None):
    """Build the argv that launches ``program`` on ``np`` ranks over ``hosts`` (``[(host, slots), ...]``).

    ``hostfile``: path of a file already holding ``hostfile_text(implementation, hosts)``; when
    given it replaces the inline host list. ``env``: variables for every rank; for Open MPI the
    caller must also put ``launcher_env(implementation, env)`` into the launcher's environment.
    ``extra_args``: site flags placed before the program (e.g. ``['--mca', 'btl', 'tcp,self']``).
    """
    _check_implementation(implementation)
    hosts = _check_hosts(hosts)
    _check_count(np, "np (number of ranks)", "Pass how many processes to start, e.g. hosts x accelerators.")
    program = _check_args(program, "program", "['dlio_benchmark', 'workload=unet3d_h100']")
    if not program:
        raise ValueError("program is empty: give the command each rank runs, e.g. ['hostname'].")
    extra = _check_args(extra_args or [], "extra_args", "['--mca', 'btl', 'tcp,self']")
    env_items = _check_env(env)
    if not isinstance(mpirun, str) or not mpirun:
        raise ValueError("mpirun must be the launcher's name or path, got %r." % (mpirun,))
    if hostfile is not None and (not isinstance(hostfile, str) or not hostfile):
        raise ValueError("hostfile must be a file path or None, got %r." % (hostfile,))

    total_slots = sum(slots for _, slots in hosts)
    if np > total_slots and not oversubscribe:
        raise ValueError(
            "np=%d ranks exceed the %d slots of the host list (%s). Lower np, give the hosts more "
            "slots, or set oversubscribe=true to run more ranks than slots."
            % (np, total_slots, ",".join("%s:%d" % h for h in hosts))
        )

    command = [mpirun]
    if implementation == OPENMPI:
        if run_as_root:
            command.append("--allow-run-as-root")
        if oversubscribe:
            command.append("--oversubscribe")
        command += ["-np", str(np)]
        if hostfile:
            command += ["--hostfile", hostfile]
        else:
            command += ["-host", ",".join("%s:%d" % h for h in hosts)]
        for name, _ in env_items:
            command += ["-x", name]
        # the run's identity (set by the engine runner) must reach every rank, or cleanup could not find them;
        # hydra launchers pass the whole environment on by default
        command += ["-x", RUN_ID_VAR]
    else:
        command += ["-n", str(np)]
        if hostfile:
            command += ["-machinefile" if implementation == INTELMPI else "-f", hostfile]
        elif implementation == INTELMPI:
            per_host = _uniform_slots(hosts)
            if per_host is None:
                return _intel_argument_sets(command[0], hosts, np, env_items, extra, program)
            command += ["-hosts", ",".join(host for host, _ in hosts), "-ppn", str(per_host)]
        else:
            command += ["-hosts", ",".join("%s:%d" % h for h in hosts)]
        for name, value in env_items:
            command += ["-genv", name, value]
    return command + extra + program


def _intel_argument_sets(mpirun, hosts, np, env_items, extra, program):
    """Intel MPI with uneven slots (``-hosts`` takes bare names, ``-ppn`` one count): global options first, then
    one argument set per host, ``-n <slots> -host <host> <program>``, separated by ``:``."""
    total = sum(slots for _, slots in hosts)
    if np != total:
        raise ValueError(
            "Intel MPI with uneven slot counts (%s) runs exactly one rank per slot (%d), not np=%d: give np as the "
            "sum of the slots, or pass hostfile= with hostfile_text('intelmpi', hosts) written to it."
            % (",".join("%s:%d" % h for h in hosts), total, np)
        )
    command = [mpirun]
    for name, value in env_items:
        command += ["-genv", name, value]
    command += extra
    for position, (host, slots) in enumerate(hosts):
        if position:
            command.append(":")
        command += ["-n", str(slots), "-host", host] + program
    return command


def rank_layout(hosts, accelerators_per_host):
    """Slots per host and total ranks for one rank per emulated accelerator.

    ``hosts``: host names in launch order. ``accelerators_per_host``: one count for every host,
    or a mapping of host name to its own count. Returns ``([(host, slots), ...], np)``.
    """
    if isinstance(hosts, (str, bytes)) or not isinstance(hosts, (list, tuple)) or not hosts:
        raise ValueError("hosts must be a non-empty list of host names, got %r." % (hosts,))
    if isinstance(accelerators_per_host, dict):
        missing = [host for host in hosts if host not in accelerators_per_host]
        if missing:
            raise ValueError(
                "accelerators_per_host has no count for %s. Give every host in the list a count."
                % ", ".join(repr(host) for host in missing)
            )
        layout = [(host, accelerators_per_host[host]) for host in hosts]
    else:
        layout = [(host, accelerators_per_host) for host in hosts]
    for host, count in layout:
        _check_count(count, "accelerators_per_host for %r" % (host,),
                     "Give how many accelerators the benchmark emulates on that host.")
    layout = _check_hosts(layout)
    return layout, sum(slots for _, slots in layout)
