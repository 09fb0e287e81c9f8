# -*- coding: utf-8 -*-
# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Earlier runs in the controller's results tree: which may have left processes behind (the identities cleanup
is allowed to stop), and which a new invocation would add its runs to.

Plain Python over the controller's copy of a results tree. A run whose metadata is written is over for the
playbook that made it; when it did not complete (a client was lost, the engine was stopped), ranks of it can
still live on a client that was cut off. Any process that still carries such a run's identity is a leftover.
A run of another playbook that is still going has no metadata yet, so it is never named here.
"""
from __future__ import annotations

import glob
import json
import os


def _run_metadata(run_base, newest_first=False):
    """(run directory name, metadata dict) of every ``<base>/<ts>/*_metadata.json``; unreadable metadata is {}."""
    paths = sorted(glob.glob(os.path.join(glob.escape(run_base), "*", "*_metadata.json")), reverse=newest_first)
    for path in paths:
        try:
            with open(path) as handle:
                metadata = json.load(handle)
        except (OSError, ValueError):
            metadata = {}
        yield os.path.basename(os.path.dirname(path)), metadata if isinstance(metadata, dict) else {}


def abandoned_run_ids(run_base, limit=50):
    """Run ids of the most recent ``limit`` incomplete runs under ``run_base``."""
    found = []
    for _name, metadata in _run_metadata(run_base, newest_first=True):
        run_id = metadata.get("run_id")
        if isinstance(run_id, str) and len(run_id) >= 8 and metadata.get("complete") is False:
            found.append(run_id)
            if len(found) >= limit:
                break
    return found


def existing_runs(run_base):
    """[{name, complete}] of the run directories under ``run_base`` that hold a metadata file (oldest first)."""
    return [{"name": name, "complete": metadata.get("complete") is True} for name, metadata in _run_metadata(run_base)]
