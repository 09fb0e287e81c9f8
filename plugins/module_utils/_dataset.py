# -*- coding: utf-8 -*-
# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Who made the data in a dataset folder, and may the collection replace it?

The collection deletes or overwrites only data it created. A dataset folder it generated carries the
manifest ``.mlperf-dataset.json`` (written as a claim *before* data generation starts, so an interrupted
generation is still recognised as ours, and completed after it). A folder that holds files but no manifest of
ours is foreign: it is never removed unless the operator opts in. Standard library only (Python 3.9+).
"""
from __future__ import annotations

import json
import os
import time

from ansible_collections.mlperf.storage.plugins.module_utils._engine import write_json_atomic
from ansible_collections.mlperf.storage.plugins.module_utils._results import MANIFEST_FILE, count_files

MANIFEST_KIND = "mlperf.storage dataset"
OWNERSHIP_NONE = "none"        # nothing there (missing, or only empty directories)
OWNERSHIP_OURS = "ours"        # a manifest written by this collection
OWNERSHIP_FOREIGN = "foreign"  # files, but no manifest of ours
SAMPLE_SIZE = 5


def read_manifest(data_folder):
    """The manifest as a dict, or None when it is missing or unreadable."""
    try:
        with open(os.path.join(data_folder, MANIFEST_FILE)) as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def is_our_manifest(manifest):
    """A manifest this collection wrote: a JSON object with its generation settings (``spec``).

    Manifests of earlier versions carry ``spec`` and ``generated_by``; current ones also ``kind``.
    """
    if not isinstance(manifest, dict):
        return False
    if manifest.get("kind") == MANIFEST_KIND:
        return True
    return isinstance(manifest.get("spec"), dict) and "generated_by" in manifest


def inspect_folder(data_folder, sample=SAMPLE_SIZE):
    """What is in data_folder and who made it -> dict.

    ``ownership`` is none / ours / foreign; ``files`` and ``bytes`` count every regular file below the folder
    except the manifest; ``sample`` lists a few of them (relative paths) for the operator.
    """
    out = {"path": data_folder, "exists": os.path.isdir(data_folder), "files": 0, "bytes": 0, "sample": [],
           "manifest": None, "ownership": OWNERSHIP_NONE}
    if not out["exists"]:
        return out
    manifest_path = os.path.join(data_folder, MANIFEST_FILE)
    for dirpath, dirnames, filenames in os.walk(data_folder):
        dirnames.sort()
        for name in sorted(filenames):
            path = os.path.join(dirpath, name)
            if path == manifest_path or path.startswith(manifest_path + ".tmp"):  # ours, being written
                continue
            try:
                st = os.lstat(path)
            except OSError:
                continue
            if os.path.islink(path):
                continue
            out["files"] += 1
            out["bytes"] += st.st_size
            if len(out["sample"]) < sample:
                out["sample"].append(os.path.relpath(path, data_folder))
    manifest = read_manifest(data_folder)
    if is_our_manifest(manifest):
        out["manifest"] = manifest
        out["ownership"] = OWNERSHIP_OURS
    elif out["files"] or os.path.exists(manifest_path):
        # an unreadable or alien .mlperf-dataset.json proves nothing: the files are not known to be ours
        out["ownership"] = OWNERSHIP_FOREIGN
    return out


def decide(inspection, replace_foreign):
    """(action, reason) for a dataset folder that does not match the plan.

    action: ``generate`` (nothing there, or our own data: remove ours and regenerate), ``replace`` (foreign data,
    the operator opted in), ``refuse`` (foreign data, no opt-in).
    """
    ownership = inspection["ownership"]
    if ownership == OWNERSHIP_NONE:
        return "generate", "the folder holds no files"
    if ownership == OWNERSHIP_OURS:
        return "generate", "the folder holds a dataset this collection generated"
    if replace_foreign:
        return "replace", "the folder holds %d files this collection did not generate; replacing them as allowed" \
            % inspection["files"]
    return "refuse", "the folder holds %d files (%d bytes) and no dataset manifest of this collection" % (
        inspection["files"], inspection["bytes"])


def check_dataset(data_folder, spec, expected_train_files, inspection=None):
    """Does the dataset in data_folder prove it matches spec? -> (matches, reason, observed)."""
    inspection = inspection if inspection is not None else inspect_folder(data_folder)
    manifest = inspection["manifest"]
    train = os.path.join(data_folder, "train")
    observed = {"train_files": None, "train_bytes": None}
    if inspection["ownership"] == OWNERSHIP_FOREIGN:
        return False, "%s holds %d files and no dataset manifest of this collection" % (
            data_folder, inspection["files"]), observed
    if manifest is None:
        return False, "no dataset manifest in %s" % data_folder, observed
    if manifest.get("state") == "generating":
        return False, "the last data generation into %s did not finish" % data_folder, observed
    if manifest.get("spec") != spec:
        changed = sorted(k for k in set(spec) | set(manifest.get("spec") or {})
                         if (manifest.get("spec") or {}).get(k) != spec.get(k))
        return False, "the dataset was generated with other settings (%s differ)" % ", ".join(changed), observed
    count, total = count_files(train)
    observed.update(train_files=count, train_bytes=total)
    if count != expected_train_files:
        return False, "%s holds %d files, the plan needs %d" % (train, count, expected_train_files), observed
    if manifest.get("train_bytes") != total:
        return False, "%s holds %d bytes, the manifest recorded %s" % (train, total, manifest.get("train_bytes")), \
            observed
    return True, "dataset matches its manifest (%d files, %d bytes)" % (count, total), observed


def _write(data_folder, manifest):
    write_json_atomic(os.path.join(data_folder, MANIFEST_FILE), manifest)
    return manifest


def claim(data_folder, spec):
    """Mark data_folder as ours before anything is generated into it (state ``generating``)."""
    os.makedirs(data_folder, exist_ok=True)
    return _write(data_folder, {"kind": MANIFEST_KIND, "state": "generating", "spec": spec, "generated_by": None,
                                "train_files": None, "train_bytes": None,
                                "claimed_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")})


def write_manifest(data_folder, spec, generated_by):
    """The finished manifest: counts of what was generated and the run directory that generated it."""
    count, total = count_files(os.path.join(data_folder, "train"))
    return _write(data_folder, {"kind": MANIFEST_KIND, "state": "complete", "spec": spec, "train_files": count,
                                "train_bytes": total, "generated_by": generated_by,
                                "written_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
