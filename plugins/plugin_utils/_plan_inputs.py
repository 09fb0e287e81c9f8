# -*- coding: utf-8 -*-
# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every benchmark plan reads from the clients' host variables (facts left by the preflight role).

Plain Python over plain dicts, shared by the plan action plugins.
"""
from __future__ import annotations


def client_record(host, hv):
    """{host, mpi_host, memtotal_bytes, cores, accelerators_per_host} of one client from its host variables;
    ``accelerators_per_host`` is the client's own mlperf_accelerators_per_host (inventory host or group variable,
    extra var), None when it has none (the plan then uses the value it was given for every client)."""
    facts = hv.get("ansible_facts", {}) or {}
    meminfo = ((facts.get("mlperf_proc") or {}).get("meminfo") or {})
    memtotal = meminfo.get("MemTotal")
    if not memtotal and facts.get("memtotal_mb"):
        memtotal = int(facts["memtotal_mb"]) * 1024 * 1024
    cores = facts.get("processor_nproc") or facts.get("processor_vcpus")
    return {"host": host, "mpi_host": hv.get("mlperf_mpi_host") or host,
            "memtotal_bytes": int(memtotal) if memtotal else None, "cores": int(cores) if cores else None,
            "accelerators_per_host": hv.get("mlperf_accelerators_per_host")}


def launcher_engine(launcher_vars):
    """The engine the launcher's locked environment provides (from its lock header)."""
    env = launcher_vars.get("python_env_result") or {}
    header = env.get("header") or {}
    return {"name": header.get("engine"), "generation": header.get("engine_generation"), "source": header.get("engine_source"),
            "version": header.get("engine_version"), "profile": header.get("profile"),
            "lock_hash": env.get("lock_hash")}


# The launcher's MPI launch settings (config role variables; absent = the default, decided by the plan).
MPI_SETTINGS = ("mlperf_mpi_launcher", "mlperf_mpi_oversubscribe", "mlperf_mpi_allow_run_as_root",
                "mlperf_mpi_extra_args")


def launcher_mpi(launcher_vars, extra_args=None):
    """The MPI the launcher answered with, whether ranks run as root, the benchmark's own extra arguments and the
    launcher's MPI launch settings as given (``settings``: checked by the plan, _inputs.mpi_settings_problems)."""
    facts = launcher_vars.get("ansible_facts", {}) or {}
    mpi_fact = facts.get("mlperf_mpi") or {}
    settings = {name: launcher_vars.get(name) for name in MPI_SETTINGS if launcher_vars.get(name) is not None}
    return {"implementation": mpi_fact.get("implementation") or "mpich", "version": mpi_fact.get("version"),
            "mpirun": mpi_fact.get("mpirun"), "run_as_root": facts.get("user_id") == "root",
            "extra_args": list(extra_args or []), "settings": settings}
