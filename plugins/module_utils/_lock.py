# -*- coding: utf-8 -*-
# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Environment lock files: parse them, read what a venv really has installed, compare.

Runs on target hosts (standard library only, Python 3.9+). A lock is a pip requirements file in which
every line pins one distribution exactly (``name==version`` or ``name @ url``); header comments of the form
``# key: value`` carry metadata such as the profile name and the Python version the lock was made for.
"""
from __future__ import annotations

import hashlib
import json
import os
import re

_NAME_RE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)")
_HEADER_RE = re.compile(r"^#\s*([a-z_]+):\s*(.+?)\s*$")


def normalize_name(name):
    """PEP 503 normalisation: case-insensitive, runs of -_. are one dash."""
    return re.sub(r"[-_.]+", "-", name).lower()


class LockError(ValueError):
    """A lock file that cannot be used; the message says which line and why."""


def lock_hash(text):
    """SHA-256 of the lock's pin lines, ignoring comments, blank lines and order."""
    lines = sorted(
        line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")
    )
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()


def parse_lock(text):
    """Parse lock text into {"header": {...}, "pins": {normalized name: {name, version, url, line}}}.

    Raises LockError naming the line for anything that is not an exact pin, because an unpinned line
    would let the resolver drift between hosts.
    """
    header = {}
    pins = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            match = _HEADER_RE.match(line)
            if match and not pins:
                header[match.group(1)] = match.group(2)
            continue
        line = line.split(" #", 1)[0].strip()
        line = line.split(";", 1)[0].strip()  # environment markers are not used in our locks
        if line.startswith("-"):
            raise LockError(
                "lock line %d: %r is a pip option; put index and find-links settings in the "
                "python_env_* variables, not in the lock" % (number, raw)
            )
        name_match = _NAME_RE.match(line)
        if not name_match:
            raise LockError("lock line %d: %r does not start with a distribution name" % (number, raw))
        name = name_match.group(1)
        rest = line[len(name):].strip()
        if "[" in name or rest.startswith("["):
            raise LockError("lock line %d: %r uses extras; pin each distribution on its own line" % (number, raw))
        version = None
        url = None
        exact = False
        if rest.startswith("==="):
            version, exact = rest[3:].strip(), True
        elif rest.startswith("=="):
            version = rest[2:].strip()
        elif rest.startswith("@"):
            url = rest[1:].strip()
        if (version is None and url is None) or (version is not None and (
                not version or "*" in version or "," in version or " " in version)):
            raise LockError(
                "lock line %d: %r is not an exact pin; expected 'name==version' or 'name @ url'" % (number, raw)
            )
        key = normalize_name(name)
        if key in pins:
            raise LockError("lock line %d: %s is pinned twice (first on line %d)" % (number, name, pins[key]["number"]))
        pins[key] = {"name": name, "version": version, "url": url, "line": line, "exact": exact, "number": number}
    if not pins:
        raise LockError("the lock has no pinned distributions")
    return {"header": header, "pins": pins}


def _metadata_fields(text):
    fields = {}
    for line in text.splitlines():
        if not line.strip():
            break  # headers end at the first blank line; the long description follows
        if ":" in line and not line.startswith((" ", "\t")):
            key, value = line.split(":", 1)
            fields.setdefault(key.strip().lower(), value.strip())
    return fields


def installed_distributions(site_packages_dirs):
    """Read {normalized name: {"name", "version", "direct_url"}} from *.dist-info dirs.

    Reads files instead of importing anything from the environment, so the check works with any
    host interpreter and cannot be fooled by a half-installed package that fails to import.
    """
    found = {}
    for directory in site_packages_dirs:
        try:
            entries = sorted(os.listdir(directory))
        except OSError:
            continue
        for entry in entries:
            if not entry.endswith(".dist-info"):
                continue
            path = os.path.join(directory, entry)
            try:
                with open(os.path.join(path, "METADATA"), encoding="utf-8", errors="replace") as handle:
                    fields = _metadata_fields(handle.read())
            except OSError:
                continue
            name = fields.get("name")
            version = fields.get("version")
            if not name or not version:
                continue
            direct_url = None
            try:
                with open(os.path.join(path, "direct_url.json"), encoding="utf-8") as handle:
                    direct_url = handle.read()
            except OSError:
                pass
            found.setdefault(normalize_name(name), {"name": name, "version": version, "direct_url": direct_url})
    return found


def compare(lock, installed):
    """Return mismatches: [{"package", "kind": missing|version|source, "expected", "actual"}].

    Distributions installed but absent from the lock (pip, setuptools, an MPI wheel added by the mpi role)
    are not mismatches: the lock says what must be present, not what must be absent.
    """
    problems = []
    for key in sorted(lock["pins"]):
        pin = lock["pins"][key]
        have = installed.get(key)
        if have is None:
            problems.append({"package": pin["name"], "kind": "missing",
                             "expected": pin["version"] or pin["url"], "actual": None})
        elif pin["version"] is not None and not version_matches(pin["version"], have["version"], pin["exact"]):
            problems.append({"package": pin["name"], "kind": "version",
                             "expected": pin["version"], "actual": have["version"]})
        elif pin["url"] is not None and not url_matches(pin["url"], have["direct_url"]):
            problems.append({"package": pin["name"], "kind": "source",
                             "expected": pin["url"], "actual": _describe_source(have)})
    return problems


_VERSION_RE = re.compile(
    r"^v?(?:(?P<epoch>\d+)!)?(?P<release>\d+(?:\.\d+)*)"
    r"(?:[-_.]?(?P<pre>a|b|c|rc|alpha|beta|pre|preview)[-_.]?(?P<pre_n>\d*))?"
    r"(?:-(?P<post_implicit>\d+)|[-_.]?(?P<post>post|rev|r)[-_.]?(?P<post_n>\d*))?"
    r"(?:[-_.]?(?P<dev>dev)[-_.]?(?P<dev_n>\d*))?"
    r"(?:\+(?P<local>[a-z0-9]+(?:[-_.][a-z0-9]+)*))?$")
_PRE_NAMES = {"alpha": "a", "beta": "b", "c": "rc", "pre": "rc", "preview": "rc"}


def _version_key(text):
    """A comparable normal form of a PEP 440 version (trailing .0 dropped), or None if unparseable."""
    match = _VERSION_RE.match(text.strip().lower())
    if not match:
        return None
    parts = [int(p) for p in match.group("release").split(".")]
    while len(parts) > 1 and parts[-1] == 0:
        parts.pop()
    pre = None
    if match.group("pre"):
        pre = (_PRE_NAMES.get(match.group("pre"), match.group("pre")), int(match.group("pre_n") or 0))
    post = match.group("post_implicit")
    if post is None and match.group("post"):
        post = match.group("post_n") or "0"
    dev = int(match.group("dev_n") or 0) if match.group("dev") else None
    local = re.sub(r"[-_]", ".", match.group("local")) if match.group("local") else None
    return (int(match.group("epoch") or 0), tuple(parts), pre, None if post is None else int(post), dev, local)


def version_matches(pinned, installed, exact=False):
    """Whether an installed version satisfies a lock pin the way pip decides it.

    ``===`` compares strings. ``==`` follows PEP 440: 2.0 equals 2.0.0, and a pin without a local label
    (``torch==2.13.0``) is satisfied by a local build (``2.13.0+cpu``) -- pip would call that installed, so
    reporting it as a mismatch would make the role reinstall forever.
    """
    if exact:
        return pinned.strip() == installed.strip()
    want, have = _version_key(pinned), _version_key(installed)
    if want is None or have is None:
        return pinned.strip().lower() == installed.strip().lower()
    if want[5] is None:
        have = have[:5] + (None,)
    return want == have


_VCS_PREFIXES = ("git+", "hg+", "svn+", "bzr+")


def split_vcs_url(url):
    """'git+https://h/x.git@rev#egg=y' -> ('https://h/x.git', 'rev' or None); other URLs keep their '@'."""
    core = url.split("#", 1)[0]
    if not core.startswith(_VCS_PREFIXES):
        return core, None
    core = core.split("+", 1)[1]
    scheme, sep, rest = core.partition("://")
    rev = None
    host, slash, path = rest.partition("/")
    if "@" in path:  # an '@' in the host part is user@host, not a revision
        path, rev = path.rsplit("@", 1)
    return scheme + sep + host + slash + path, rev


def url_matches(pin_url, direct_url_json):
    """True when the installed distribution came from the pinned URL (and revision, for VCS pins)."""
    if not direct_url_json:
        return False
    try:
        recorded = json.loads(direct_url_json)
    except ValueError:
        return False
    want_url, want_rev = split_vcs_url(pin_url)
    if recorded.get("url", "").rstrip("/") != want_url.rstrip("/"):
        return False
    if want_rev:
        vcs = recorded.get("vcs_info") or {}
        commit = vcs.get("commit_id") or ""
        return commit.startswith(want_rev) or vcs.get("requested_revision") == want_rev
    return True


def _describe_source(have):
    try:
        recorded = json.loads(have["direct_url"] or "{}")
    except ValueError:
        recorded = {}
    commit = (recorded.get("vcs_info") or {}).get("commit_id")
    where = recorded.get("url") or "an index"
    return "%s from %s%s" % (have["version"], where, ("@" + commit[:12]) if commit else "")


def pip_install_argv(python, lock_path, index_url=None, extra_index_urls=(), find_links=(), packages=None):
    """argv that installs the lock (or only the named pins) with no dependency resolution."""
    argv = [python, "-m", "pip", "install", "--no-deps", "--disable-pip-version-check", "--no-input"]
    if index_url:
        argv += ["--index-url", index_url]
    for url in extra_index_urls or ():
        argv += ["--extra-index-url", url]
    for link in find_links or ():
        argv += ["--find-links", link]
    if packages:
        argv += list(packages)
    else:
        argv += ["-r", lock_path]
    return argv


def fix_command(python, lock, problems, lock_path, **index):
    """A shell-quoted command that repairs exactly the given problems (for humans to read and run)."""
    lines = [lock["pins"][normalize_name(p["package"])]["line"] for p in problems]
    argv = pip_install_argv(python, lock_path, packages=lines, **index)
    return " ".join(shell_quote(a) for a in argv)


def shell_quote(word):
    """Quote one word for a POSIX shell (like shlex.quote, kept readable for plain words)."""
    if re.match(r"^[A-Za-z0-9_./=+:@-]+$", word):
        return word
    return "'" + word.replace("'", "'\"'\"'") + "'"
