# -*- coding: utf-8 -*-
# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""``fs_separation.json``: are the storage under test and the results directory on different filesystems?

Runs on target hosts: Python 3.9+ standard library only. The parser takes text (``/proc/self/mountinfo``);
the probe stats real paths; the writer puts the record into a run directory atomically.

The record is the one the rules engine reads (rules 3.4.2, 4.4.2, 5.4.2: ``same_filesystem`` decides, the
paths name the evidence). It keeps the keys of the upstream record (``version``, ``method``,
``data_or_chkpt_path``, ``results_path``, the two ``*_realpath``, ``same_filesystem``, ``probed_at``,
``probed_by_host``) and adds what the probe saw for each side: device (``st_dev``), mount point, filesystem
type and mount source.

Two directories are on the same filesystem when their ``st_dev`` is equal, or when both are mounted from
the same block device (a mount source that is an absolute path, such as ``/dev/nvme0n1p2``): the second
rule catches subvolumes of one btrfs filesystem, which have their own ``st_dev`` but share the disks.
"""
from __future__ import annotations

import json
import os
import socket
import tempfile
import time

from ansible_collections.mlperf.storage.plugins.module_utils._engine import fsync_dir
from ansible_collections.mlperf.storage.plugins.module_utils._procfs import _unescape_mount_field
from ansible_collections.mlperf.storage.plugins.module_utils._results import CHECKSUM_FILE

FILE_NAME = "fs_separation.json"
VERSION = 1
METHOD = "st_dev"
# keys that change on every probe and do not decide anything: an existing record equal in all other keys
# is left as it is
VOLATILE_KEYS = ("probed_at", "probed_by_host")


class FsSeparationError(Exception):
    """The record cannot be written (the run directory is missing, sealed or not writable)."""


def parse_mountinfo(text):
    """/proc/<pid>/mountinfo text -> list of mounts, in file order.

    Each mount: ``{"mount_id", "parent_id", "major", "minor", "root", "mount_point", "options", "fstype",
    "source", "super_options"}``. Lines that do not have the documented shape (fields, optional fields,
    ``-``, fstype, source, super options) are skipped, so a truncated last line does no harm.
    """
    mounts = []
    for line in text.splitlines():
        fields = line.split(" ")
        if "-" not in fields:
            continue
        sep = fields.index("-")
        if sep < 6 or len(fields) < sep + 3:
            continue
        dev = fields[2].split(":")
        if len(dev) != 2 or not dev[0].isdigit() or not dev[1].isdigit():
            continue
        try:
            mount_id, parent_id = int(fields[0]), int(fields[1])
        except ValueError:
            continue
        mounts.append({
            "mount_id": mount_id,
            "parent_id": parent_id,
            "major": int(dev[0]),
            "minor": int(dev[1]),
            "root": _unescape_mount_field(fields[3]),
            "mount_point": _unescape_mount_field(fields[4]),
            "options": fields[5],
            "fstype": fields[sep + 1],
            "source": _unescape_mount_field(fields[sep + 2]),
            "super_options": fields[sep + 3] if len(fields) > sep + 3 else "",
        })
    return mounts


def _under(path, point):
    return point == "/" or path == point or path.startswith(point.rstrip("/") + "/")


def find_mount(mounts, path, device=None):
    """The mount holding the resolved absolute ``path``: the longest mount point that contains it; of mounts
    stacked on one point, the last listed (the one on top). When ``device`` (an ``st_dev``) is given, a
    containing mount with that device number is preferred at equal length. None when nothing matches."""
    best = None
    for entry in mounts:
        point = entry["mount_point"]
        if not _under(path, point):
            continue
        if best is None or len(point) > len(best["mount_point"]):
            best = entry
        elif len(point) == len(best["mount_point"]):
            if device is None or _dev_of(entry) == device or _dev_of(best) != device:
                best = entry
    return best


def _dev_of(entry):
    return os.makedev(entry["major"], entry["minor"])


def probe(path, mounts):
    """What one directory is on: ``{path, realpath, device, mount_point, fstype, source, error}``.

    Never raises: a path that cannot be stat'ed gets ``device`` None and the reason in ``error``.
    """
    info = {"path": path, "realpath": None, "device": None, "mount_point": None, "fstype": None,
            "source": None, "error": None}
    if not path:
        info["error"] = "no path given"
        return info
    real = os.path.realpath(path)
    info["realpath"] = real
    try:
        st = os.stat(real)
    except OSError as exc:
        info["error"] = "cannot stat %s: %s" % (real, exc.strerror or exc)
        return info
    info["device"] = st.st_dev
    entry = find_mount(mounts, real, st.st_dev)
    if entry is not None:
        info.update(mount_point=entry["mount_point"], fstype=entry["fstype"], source=entry["source"])
    else:
        info["mount_point"] = _mount_point_by_walk(real)
    return info


def _mount_point_by_walk(path):
    """Mount point without mountinfo (not a Linux /proc): the first ancestor that os.path.ismount says is one."""
    while not os.path.ismount(path):
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    return path


def same_filesystem(data, results):
    """(same: bool or None, reason) for two probe() results. None when either side could not be probed."""
    if data["device"] is None or results["device"] is None:
        return None, "not probed: %s" % "; ".join(x["error"] for x in (data, results) if x["error"])
    if data["device"] == results["device"]:
        return True, "same device number (st_dev %d)" % data["device"]
    src = data["source"]
    if src and src == results["source"] and src.startswith("/") and data["fstype"] == results["fstype"]:
        return True, "different st_dev, but both are mounted from %s (%s)" % (src, data["fstype"])
    return False, "different device numbers (st_dev %d and %d)" % (data["device"], results["device"])


def utc_now(now=None):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now if now is not None else time.time()))


def build_record(data_path, results_path, mountinfo_text, host=None, now=None):
    """The fs_separation.json record for ``data_path`` (data or checkpoint directory, or KV cache, the storage
    under test) and ``results_path`` (the results directory), from the mountinfo text of the probing host."""
    mounts = parse_mountinfo(mountinfo_text or "")
    data = probe(data_path, mounts)
    results = probe(results_path, mounts)
    same, reason = same_filesystem(data, results)
    record = {
        "version": VERSION,
        "method": METHOD,
        "data_or_chkpt_path": data_path,
        "results_path": results_path,
        "data_or_chkpt_realpath": data["realpath"],
        "results_realpath": results["realpath"],
        "same_filesystem": same,
        "reason": reason,
        "data_device": data["device"],
        "results_device": results["device"],
        "data_mount_point": data["mount_point"],
        "results_mount_point": results["mount_point"],
        "data_fstype": data["fstype"],
        "results_fstype": results["fstype"],
        "data_mount_source": data["source"],
        "results_mount_source": results["source"],
        "probed_at": utc_now(now),
        "probed_by_host": host if host is not None else socket.gethostname(),
    }
    errors = [x["error"] for x in (data, results) if x["error"]]
    if errors:
        record["error"] = "; ".join(errors)
    return record


def render(record):
    return json.dumps(record, indent=2) + "\n"


def _read_existing(path):
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _stable(record):
    return {k: v for k, v in record.items() if k not in VOLATILE_KEYS}


def plan_write(run_dir, record):
    """(target path, needs writing: bool). Raises FsSeparationError when the run directory cannot take it."""
    if not os.path.isdir(run_dir):
        raise FsSeparationError("run directory %s does not exist" % run_dir)
    if os.path.lexists(os.path.join(run_dir, CHECKSUM_FILE)):
        raise FsSeparationError("run directory %s is already sealed (%s exists); nothing may be added to a "
                                "sealed run directory: write %s before the checksums"
                                % (run_dir, CHECKSUM_FILE, FILE_NAME))
    target = os.path.join(run_dir, FILE_NAME)
    if os.path.islink(target):
        raise FsSeparationError("%s is a symbolic link; refusing to write through it" % target)
    existing = _read_existing(target)
    return target, existing is None or _stable(existing) != _stable(record)


def write_record(run_dir, record, mode=0o644):
    """Write ``<run_dir>/fs_separation.json`` atomically (temporary file in the same directory, fsync, rename).

    Returns (path, changed). An existing record that differs only in the probe time and host is kept.
    """
    target, needed = plan_write(run_dir, record)
    if not needed:
        return target, False
    try:
        handle, tmp = tempfile.mkstemp(prefix=".%s." % FILE_NAME, suffix=".tmp", dir=run_dir)
    except OSError as exc:
        raise FsSeparationError("cannot write into %s: %s" % (run_dir, exc.strerror or exc))
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(render(record))
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise FsSeparationError("cannot write %s: %s" % (target, exc.strerror or exc))
    fsync_dir(run_dir)
    return target, True


def read_mountinfo(path="/proc/self/mountinfo"):
    """The mountinfo text, or "" where there is none (the probe then walks up with os.path.ismount)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except OSError:
        return ""
