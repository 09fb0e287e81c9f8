# -*- coding: utf-8 -*-
# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Results-tree primitives on the hosts: run directories that are never reused, dataset manifests,
checksum manifests. Standard library only (Python 3.9+)."""
from __future__ import annotations

import hashlib
import os
import time

TIMESTAMP_FORMAT = "%Y%m%d_%H%M%S"
CHECKSUM_FILE = "CHECKSUMS.sha256"
MANIFEST_FILE = ".mlperf-dataset.json"


class ResultsError(Exception):
    pass


def reserve_run_dir(base, now=None, mode=0o755, attempts=None):
    """Create <base>/<YYYYMMDD_HHMMSS> and return (path, timestamp).

    mkdir is atomic: if the directory exists (another run in the same second, maybe another playbook on a
    shared results directory), nothing is touched; the next second is tried, up to ``attempts`` times (5 when
    the clock is read here, 1 for a given ``now``), then ResultsError says so.
    """
    attempts = attempts or (1 if now is not None else 5)
    try:
        os.makedirs(base, mode=mode, exist_ok=True)
    except OSError as exc:
        raise ResultsError("cannot create %s: %s" % (base, exc.strerror))
    for attempt in range(attempts):
        moment = now if now is not None else time.time()
        stamp = time.strftime(TIMESTAMP_FORMAT, time.localtime(moment))
        path = os.path.join(base, stamp)
        try:
            os.mkdir(path, mode)
        except FileExistsError:
            if attempt + 1 < attempts:
                time.sleep(1.0 - (time.time() % 1.0) + 0.01)  # into the next second
            continue
        except OSError as exc:
            raise ResultsError("cannot create %s: %s" % (path, exc.strerror))
        os.chmod(path, mode)  # umask must not make results world-writable or unreadable
        return path, stamp
    raise ResultsError("run directory %s already exists; a run never writes into an existing run "
                       "directory (wait a second and rerun, or check for a concurrent run)" % path)


def count_files(root):
    """(number of regular files, total bytes) below root, not following links."""
    count = 0
    total = 0
    for dirpath, _dirnames, filenames in os.walk(root):
        for name in filenames:
            try:
                st = os.lstat(os.path.join(dirpath, name))
            except OSError:
                continue
            if not os.path.islink(os.path.join(dirpath, name)):
                count += 1
                total += st.st_size
    return count, total


def sha256_file(path, chunk=1 << 20):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while True:
            block = handle.read(chunk)
            if not block:
                break
            digest.update(block)
    return digest.hexdigest()


def sealed_files(run_dir):
    """The files a run's manifest covers: every file below run_dir, relative and '/'-separated, in order; the
    manifest itself and symbolic links are not files of the run (links are not followed). The writer below and
    the verifier both use this, so they cannot disagree on what belongs to a run."""
    found = []
    for dirpath, dirnames, filenames in os.walk(run_dir):
        dirnames.sort()
        for name in sorted(filenames):
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, run_dir).replace(os.sep, "/")
            if rel != CHECKSUM_FILE and not os.path.islink(path):
                found.append(rel)
    return found


def write_checksums(run_dir):
    """Write CHECKSUMS.sha256 (sha256sum format) for every file in run_dir; return the file count."""
    lines = ["%s  %s" % (sha256_file(os.path.join(run_dir, rel)), rel) for rel in sealed_files(run_dir)]
    tmp = os.path.join(run_dir, CHECKSUM_FILE + ".tmp")
    with open(tmp, "w") as handle:
        handle.write("\n".join(lines) + ("\n" if lines else ""))
    os.replace(tmp, os.path.join(run_dir, CHECKSUM_FILE))
    return len(lines)
