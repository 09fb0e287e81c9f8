# -*- coding: utf-8 -*-
# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Preflight evaluation: turn what every client reported into one list of problems and one table.

Plain Python (controller side). Input is one report per client, gathered by the preflight role:

    {"host", "unreachable": bool, "unreachable_msg", "facts_error": str (reached, but setup failed),
     "env": {matches, mismatches[], fix_command, python_version, header{}} | None,
     "mpi": {present, implementation, version, mpirun, error} | None,
     "dirs": {name: {path, exists, is_dir, writable, error, fstype, device, free_bytes, ...}} | None,
     "memory_mb": int | None, "cores": int | None,
     "peers": {peer: {host, hostname, port, resolves, ssh_ok, error}} | None  # launcher only
     "shared": {name: {"sentinels": {peer: token or None}}} | None,  # launcher only (dir_probe)
     "unsafe_msg": str}  # the work directory can be written by someone else (safe_dir)
"""
from __future__ import annotations

# Rules 3.3.3 (text): about 0.5 GB of host memory per simulated accelerator.
MEMORY_MB_PER_ACCELERATOR = 512


def _problem(host, check, message, fix, severity="error"):
    return {"host": host, "check": check, "severity": severity, "message": message, "fix": fix}


ALL_CHECKS = ("env", "mpi", "dirs", "peers")


def evaluate(reports, launcher, accelerators_per_host=1, require_shared=("data_dir",),
             mpi_implementation=None, checks=ALL_CHECKS):
    """Return every problem found across all reports (errors and warnings), host by host.

    ``checks``: which of ALL_CHECKS the benchmark needs (the vector database client runs on the launcher from
    its own environment: no benchmark environment, MPI or SSH between clients is checked for it).
    """
    problems = []
    reachable = [r for r in reports if not r.get("unreachable") and not r.get("facts_error")]
    for report in reports:
        host = report["host"]
        if report.get("unreachable"):
            reason = _strip_prefix(report.get("unreachable_msg") or "no answer", "Task failed: ")
            problems.append(_problem(
                host, "reachable", "unreachable: %s" % reason,
                "check that the host is up and that the controller can SSH to it as the inventory says "
                "(ansible_host, ansible_user, key); then rerun"))
            continue
        if report.get("facts_error"):
            problems.append(_problem(
                host, "facts", "reached, but gathering facts failed: %s" % _strip_prefix(report["facts_error"],
                                                                                         "Task failed: "),
                "check the Python interpreter on the host (ansible_python_interpreter) and rerun"))
            continue
        if "env" in checks:
            problems.extend(_env_problems(host, report.get("env")))
        if "mpi" in checks:
            problems.extend(_mpi_problems(host, report.get("mpi"), mpi_implementation))
        if "dirs" in checks:
            problems.extend(_dir_problems(host, report.get("dirs") or {}))
            if report.get("unsafe_msg"):
                problems.append(_problem(host, "work_dir-owner", report["unsafe_msg"],
                                         "use a work directory that only root and the remote user can write "
                                         "(mlperf_work_dir), or fix its owner and mode"))
        # the client's own mlperf_accelerators_per_host (a host variable, in its report) wins
        own = _as_count(report.get("accelerators_per_host"))
        problems.extend(_capacity_problems(host, report, own if own is not None else accelerators_per_host))
    problems.extend(_consistency_problems(reachable))
    launcher_report = next((r for r in reachable if r["host"] == launcher), None)
    if launcher_report is not None:
        if "peers" in checks:
            problems.extend(_peer_problems(launcher, launcher_report.get("peers") or {}))
        # a client that was not checked wrote no sentinel: its row already says why
        checked = set(r["host"] for r in reachable)
        problems.extend(_shared_problems(launcher, launcher_report.get("shared") or {}, require_shared, checked))
    return problems


def _strip_prefix(text, prefix):
    """Ansible's own 'Task failed: ' adds nothing inside a table that already says what failed."""
    text = str(text)
    return text[len(prefix):] if text.startswith(prefix) else text


def _env_problems(host, env):
    if env is None:
        return [_problem(host, "env-lock", "the benchmark environment was not checked",
                         "run the mlperf.storage.python_env role (playbooks/provision.yml)")]
    if env.get("unsafe_msg"):
        # the collection would run programs from a directory someone else can change
        return [_problem(host, "env-owner", env["unsafe_msg"],
                         "recreate the environment in a directory only root and the remote user can write "
                         "(python_env_dir), or list its owner in python_env_trusted_owners")]
    if env.get("matches"):
        return []
    mismatches = env.get("mismatches") or []
    if not mismatches:
        return [_problem(host, "env-lock", "the benchmark environment %s does not exist" % env.get("venv", ""),
                         env.get("fix_command") or "run playbooks/provision.yml")]
    out = []
    shown = mismatches[:5]
    for item in shown:
        if item["kind"] == "missing":
            text = "%s is not installed (lock pins %s)" % (item["package"], item["expected"])
        elif item["kind"] == "python":
            text = "environment has Python %s, lock needs %s" % (item["actual"], item["expected"])
        else:
            text = "%s is %s, lock pins %s" % (item["package"], item["actual"], item["expected"])
        out.append(_problem(host, "env-lock", text, env.get("fix_command") or "run playbooks/provision.yml"))
    if len(mismatches) > len(shown):
        out.append(_problem(host, "env-lock", "... and %d more lock mismatches" % (len(mismatches) - len(shown)),
                            env.get("fix_command") or "run playbooks/provision.yml"))
    return out


def _mpi_problems(host, mpi, expected_impl):
    if not mpi or not mpi.get("present"):
        reason = (mpi or {}).get("error") or "not detected"
        return [_problem(host, "mpi", "MPI missing: %s" % reason,
                         "run the mlperf.storage.mpi role (playbooks/provision.yml), or set mpi_bin_dir to the "
                         "directory that holds mpirun")]
    if expected_impl and mpi.get("implementation") != expected_impl:
        return [_problem(host, "mpi", "MPI is %s %s, mpi_implementation asks for %s" % (
            mpi.get("implementation"), mpi.get("version"), expected_impl),
            "install %s (mlperf.storage.mpi role) or change mpi_implementation" % expected_impl)]
    return []


def _dir_problems(host, dirs):
    out = []
    for name in sorted(dirs):
        info = dirs[name]
        var = "mlperf_" + name
        if not info.get("exists"):
            out.append(_problem(host, name, "%s %s does not exist" % (var, info.get("path")),
                                "create it (mkdir -p %s) or point %s at an existing directory" % (
                                    info.get("path"), var)))
        elif not info.get("is_dir"):
            out.append(_problem(host, name, "%s %s is not a directory" % (var, info.get("path")),
                                "point %s at a directory" % var))
        elif not info.get("writable"):
            reason = str(info.get("error") or "the probe file could not be created")
            if reason.startswith("not writable: "):
                reason = reason[len("not writable: "):]
            out.append(_problem(host, name, "%s %s is not writable: %s" % (var, info.get("path"), reason),
                                "make it writable for the benchmark user or remount it read-write"))
    return out


def _as_count(value):
    """A whole number from an int or a digit string (a host variable), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def _capacity_problems(host, report, accelerators_per_host):
    out = []
    cores = report.get("cores")
    memory_mb = report.get("memory_mb")
    if cores and accelerators_per_host > cores:
        out.append(_problem(host, "cores", "%d simulated accelerators on %d cores: ranks will share cores" % (
            accelerators_per_host, cores), "lower mlperf_accelerators_per_host or accept oversubscription",
            severity="warning"))
    if memory_mb and memory_mb < MEMORY_MB_PER_ACCELERATOR * accelerators_per_host:
        out.append(_problem(host, "memory", "%d MiB of memory for %d simulated accelerators (about %d MiB each "
                            "is needed)" % (memory_mb, accelerators_per_host, MEMORY_MB_PER_ACCELERATOR),
                            "lower mlperf_accelerators_per_host or add clients", severity="warning"))
    return out


def _consistency_problems(reports):
    out = []
    mpis = {(r["mpi"].get("implementation"), r["mpi"].get("version")): r["host"]
            for r in reports if r.get("mpi") and r["mpi"].get("present")}
    if len(mpis) > 1:
        seen = ", ".join("%s has %s %s" % (host, impl, ver) for (impl, ver), host in sorted(mpis.items(),
                                                                                          key=lambda x: x[1]))
        out.append(_problem("(all)", "mpi-consistency", "MPI differs between clients: " + seen,
                            "install the same MPI implementation and version on every client (mlperf.storage.mpi)"))
    hashes = {}
    for r in reports:
        env = r.get("env") or {}
        if env.get("lock_hash") and env.get("matches"):
            hashes.setdefault(env["lock_hash"], []).append(r["host"])
    if len(hashes) > 1:
        out.append(_problem("(all)", "env-consistency", "clients use different environment locks: " + "; ".join(
            ",".join(v) for v in hashes.values()), "use one mlperf_env_profile for every client"))
    return out


def _peer_problems(launcher, peers):
    out = []
    for peer in sorted(peers):
        info = peers[peer]
        host = info.get("host") or peer
        # the name MPI is given (mlperf_mpi_host) and the port ssh really uses, as the launcher resolved them
        where = peer if host == peer else "%s (mlperf_mpi_host %s)" % (peer, host)
        port = (" port %s" % info["port"]) if info.get("port") not in (None, 22) else ""
        if not info.get("resolves"):
            out.append(_problem(launcher, "ssh", "cannot resolve %s: %s" % (where, info.get("error")),
                                "make %s resolvable on %s (DNS or /etc/hosts), or set mlperf_mpi_host of %s to "
                                "a name or address the launcher resolves" % (info.get("hostname") or host,
                                                                             launcher, peer)))
        elif not info.get("ssh_ok"):
            out.append(_problem(launcher, "ssh", "cannot SSH to %s%s without a prompt: %s"
                                % (where, port, info.get("error")),
                                "install the launcher's key on %s and its host key in the launcher's known_hosts; "
                                "a port other than 22 belongs in the launcher's ssh config (Port), which MPI's "
                                "ssh reads too (MPI starts ranks over SSH in BatchMode)" % peer))
    return out


def _shared_problems(launcher, shared, require_shared, checked=None):
    out = []
    for name in require_shared:
        seen = (shared.get(name) or {}).get("sentinels")
        if seen is None:
            continue
        # each client wrote its own name into its sentinel; anything else is a different filesystem
        # the launcher reads its own sentinel only to remove it: it proves nothing about sharing
        missing = sorted(peer for peer, token in seen.items()
                         if peer != launcher and token != peer and (checked is None or peer in checked))
        if missing:
            out.append(_problem(launcher, "shared-" + name, "mlperf_%s is not one shared filesystem: the launcher "
                                "cannot see the sentinel files written there by %s" % (name, ", ".join(missing)),
                                "mount the same shared filesystem at the same path on every client"))
    return out


def format_table(problems, hosts):
    """A fixed-width table, one row per problem, grouped by host in inventory order."""
    if not problems:
        return "preflight: all %d clients ready" % len(hosts)
    order = {h: i for i, h in enumerate(hosts)}
    rows = sorted(problems, key=lambda p: (order.get(p["host"], len(order)), p["check"]))
    errors = sum(1 for p in problems if p["severity"] == "error")
    affected = len({p["host"] for p in problems})
    header = ("host", "check", "level", "problem", "fix")
    table = [header] + [(p["host"], p["check"], p["severity"], p["message"], p["fix"]) for p in rows]
    widths = [min(max(len(str(r[i])) for r in table), cap) for i, cap in enumerate((24, 16, 7, 90, 200))]
    lines = ["preflight: %d error(s), %d warning(s) on %d of %d clients" % (
        errors, len(problems) - errors, affected, len(hosts))]
    for row in table:
        cells = [str(v) for v in row]
        cells = [c if len(c) <= widths[i] or i >= 3 else c[:widths[i] - 1] + "~" for i, c in enumerate(cells)]
        lines.append("  ".join(c.ljust(widths[i]) for i, c in enumerate(cells)).rstrip())
    return "\n".join(lines)
