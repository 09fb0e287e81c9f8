# -*- coding: utf-8 -*-
# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ownership and mode checks for the directories the collection executes from or writes into.

Runs on target hosts: Python 3.9+ standard library only.

A directory is trusted when nobody but root and the trusted users (by default the user this runs
as) can change what it holds:

- every existing component of the path, from ``/`` down, is owned by root or a trusted user;
- no ancestor is writable by group or others unless it has the sticky bit (``/tmp``, ``/var/tmp``:
  others may add entries there but cannot replace ours);
- the directory itself (the leaf) is not writable by group or others at all, sticky or not: the
  collection writes fixed names into it (pid, stop and spool files, a venv's ``bin``), and a
  stranger who could create those names first could redirect a privileged write;
- a symbolic link on the way is followed only when the link itself is owned by root or a trusted
  user; its target is then checked the same way.

Missing components are created (when asked) one at a time with ``mkdir`` and an explicit
``chmod``, so the umask does not decide the mode and an existing entry is never reused blindly.
"""
from __future__ import annotations

import os
import pwd
import socket
import stat

MAX_LINKS = 16


def user_name(uid):
    try:
        return pwd.getpwuid(uid).pw_name
    except (KeyError, OverflowError):
        return "uid %d" % uid


def resolve_uids(names):
    """User names or numeric ids -> (set of uids, list of names that do not exist)."""
    uids, unknown = set(), []
    for name in names or []:
        text = str(name).strip()
        if text.isdigit():
            uids.add(int(text))
            continue
        try:
            uids.add(pwd.getpwnam(text).pw_uid)
        except KeyError:
            unknown.append(text)
    return uids, unknown


def mode_text(st_mode):
    return "%04o" % stat.S_IMODE(st_mode)


def _fix(path, leaf, euid):
    owner = user_name(euid)
    if leaf:
        return ("remove it if you do not know who made it, or make it yours: chown %s %s && chmod 0755 %s "
                "(or choose another directory)" % (owner, path, path))
    who = "root" if euid == 0 else "root or %s" % owner
    return ("use a directory whose parents only %s can write%s, or as root: chown root %s && chmod go-w %s"
            % (who, "" if euid == 0 else " (for example under the home directory of %s)" % owner, path, path))


def problem_of(path, st, trusted, leaf, euid):
    """The problem with one existing component, or None.  ``st`` is its lstat result."""
    owner_ok = st.st_uid == 0 or st.st_uid in trusted
    mode = stat.S_IMODE(st.st_mode)
    others_write = mode & (stat.S_IWGRP | stat.S_IWOTH)
    sticky = mode & stat.S_ISVTX
    reasons = []
    if not owner_ok:
        others = [user_name(u) for u in sorted(trusted) if u != 0]
        reasons.append("is owned by %s, not by root%s" % (
            user_name(st.st_uid), "".join(" or %s" % name for name in others)))
    if stat.S_ISDIR(st.st_mode) and others_write:
        if leaf:
            reasons.append("is writable by %s (mode %s)" % (
                "group and others" if (mode & stat.S_IWGRP and mode & stat.S_IWOTH)
                else "its group" if mode & stat.S_IWGRP else "others", mode_text(st.st_mode)))
        elif not sticky:
            reasons.append("is writable by %s without the sticky bit (mode %s)" % (
                "its group" if not mode & stat.S_IWOTH else "others", mode_text(st.st_mode)))
    if not reasons:
        return None
    return {"path": path, "owner": user_name(st.st_uid), "uid": st.st_uid, "mode": mode_text(st.st_mode),
            "leaf": leaf, "problem": " and ".join(reasons), "fix": _fix(path, leaf, euid)}


class _Walk:
    def __init__(self, trusted, mode, euid):
        self.trusted = trusted
        self.mode = mode
        self.euid = euid
        self.created = []
        self.missing = []
        self.problems = []
        self.links = 0

    def add(self, problem):
        if problem and problem not in self.problems:
            self.problems.append(problem)

    def walk(self, path, create, strict_leaf=True):
        """Check every component of absolute ``path``; returns the real path reached or None.
        ``strict_leaf``: the last component is the directory used (no group/other write at all)."""
        parts = [p for p in os.path.normpath(path).split("/") if p]
        current = "/"
        self.add(problem_of("/", os.lstat("/"), self.trusted, strict_leaf and not parts, self.euid))
        for index, part in enumerate(parts):
            leaf = strict_leaf and index == len(parts) - 1
            candidate = os.path.join(current, part)
            try:
                st = os.lstat(candidate)
            except FileNotFoundError:
                if not create:
                    self.missing.append(os.path.join(current, *parts[index:]))
                    return None
                try:
                    os.mkdir(candidate, self.mode)
                    # mkdir honours the umask; the mode asked for is the mode wanted
                    os.chmod(candidate, self.mode)
                    self.created.append(candidate)
                except FileExistsError:
                    pass  # made by someone else meanwhile: checked below like any existing entry
                st = os.lstat(candidate)
            if stat.S_ISLNK(st.st_mode):
                # a link is as trustworthy as whoever made it; then its target is checked in full
                self.add(problem_of(candidate, st, self.trusted, False, self.euid))
                self.links += 1
                if self.links > MAX_LINKS:
                    self.add({"path": candidate, "owner": user_name(st.st_uid), "uid": st.st_uid,
                              "mode": mode_text(st.st_mode), "leaf": leaf,
                              "problem": "has too many levels of symbolic links", "fix": "replace the links"})
                    return None
                target = os.path.join(current, os.readlink(candidate))
                reached = self.walk(target, create=False, strict_leaf=leaf)
                if reached is None:
                    return None  # the target's missing part or problem is recorded
                current = reached
                continue
            if not stat.S_ISDIR(st.st_mode):
                self.add({"path": candidate, "owner": user_name(st.st_uid), "uid": st.st_uid,
                          "mode": mode_text(st.st_mode), "leaf": leaf, "problem": "is not a directory",
                          "fix": "remove it or choose another directory"})
                return None
            self.add(problem_of(candidate, st, self.trusted, leaf, self.euid))
            current = candidate
        return current


def check_dir(path, create=False, mode=0o755, trusted_uids=(), euid=None):
    """Check (and optionally create) directory ``path``; see the module docstring for the rules.

    Returns ``{"path", "real_path", "safe", "created", "missing", "problems", "uid", "user"}``.
    ``safe`` is False when any existing component has a problem; missing components are not a
    problem (``create=False`` only reports them).  Creation stops at the first problem found above
    the missing part, so nothing is made inside a directory that is not trusted.
    """
    if euid is None:
        euid = os.geteuid()
    if not os.path.isabs(path):
        raise ValueError("%s is not an absolute path" % path)
    trusted = set(trusted_uids) | {euid}
    walk = _Walk(trusted, mode, euid)
    # check what exists first: never create anything below an untrusted component
    walk.walk(path, create=False)
    if create and not walk.problems and walk.missing:
        walk.missing = []
        walk.links = 0  # the second walk counts the same links again
        walk.walk(path, create=True)  # an entry a stranger made meanwhile is checked like any other
    real = os.path.realpath(path) if os.path.exists(path) else None
    return {"path": path, "real_path": real, "safe": not walk.problems, "created": walk.created,
            "missing": walk.missing, "problems": walk.problems, "uid": euid, "user": user_name(euid)}


def owner_finding(path, trusted_uids=()):
    """Who can change ``path`` and its parents, for a module that reports rather than fails:
    ``{"safe", "problems", "msg"}`` (``msg`` names every problem and its fix; empty when safe)."""
    try:
        result = check_dir(path, trusted_uids=trusted_uids)
    except (OSError, ValueError) as exc:
        return {"safe": False, "problems": [], "msg": "cannot check who owns %s: %s" % (path, exc)}
    return {"safe": result["safe"], "problems": result["problems"], "msg": "" if result["safe"] else explain(result)}


def creation_failure(result):
    """Why a created ``check_dir`` result still has a missing part, or None when everything exists."""
    if not result["missing"]:
        return None
    return "%s could not be created: %s is missing (a symbolic link whose target does not exist?)" % (
        result["path"], result["missing"][0])


def explain(result, host=None):
    """One message naming host, path, owner, mode and fix for every problem of ``result``."""
    host = host or socket.gethostname()
    lines = []
    for item in result["problems"]:
        lines.append("on %s, %s %s (owner %s, mode %s); fix: %s" % (
            host, item["path"], item["problem"], item["owner"], item["mode"], item["fix"]))
    return ("refusing to use %s: " % result["path"]) + "; ".join(lines) + (
        ". The collection runs programs from and writes (possibly as root) into this directory, so only %s "
        "may be able to change it." % ("root" if result["uid"] == 0 else "root and " + result["user"]))
