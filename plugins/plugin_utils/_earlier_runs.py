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


def abandoned_run_ids(run_base, limit=50):
    """Run ids of the most recent ``limit`` incomplete runs under ``run_base`` (``<base>/<ts>/*_metadata.json``)."""
    found = []
    for path in sorted(glob.glob(os.path.join(glob.escape(run_base), "*", "*_metadata.json")), reverse=True):
        try:
            with open(path) as handle:
                metadata = json.load(handle)
        except (OSError, ValueError):
            continue
        run_id = metadata.get("run_id") if isinstance(metadata, dict) else None
        if isinstance(run_id, str) and len(run_id) >= 8 and metadata.get("complete") is False:
            found.append(run_id)
            if len(found) >= limit:
                break
    return found


def existing_runs(run_base):
    """[{name, complete}] of the run directories under ``run_base`` that hold a metadata file (oldest first)."""
    found = []
    for path in sorted(glob.glob(os.path.join(glob.escape(run_base), "*", "*_metadata.json"))):
        try:
            with open(path) as handle:
                metadata = json.load(handle)
        except (OSError, ValueError):
            metadata = {}
        complete = metadata.get("complete") is True if isinstance(metadata, dict) else False
        found.append({"name": os.path.basename(os.path.dirname(path)), "complete": complete})
    return found
