# -*- coding: utf-8 -*-
# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: abandoned_runs
short_description: Identities of earlier incomplete runs whose leftover processes may be stopped
version_added: "0.2.0"
description:
  - Reads the metadata of the run directories under each given run base on the controller and returns the
    C(run_id) of every run that did not complete (most recent first, at most 50 per base).
  - These are the only identities the stray-rank cleanup before a phase acts on. A run whose metadata exists is
    over for the playbook that made it, and a run of another playbook that is still going has no metadata yet.
options:
  _terms:
    description: Run base directories on the controller (C(.../training/unet3d/run)).
    type: list
    elements: path
    required: true
"""

EXAMPLES = r"""
- name: Stop ranks that earlier, abandoned runs left on the clients
  mlperf.storage.engine_stop:
    run_ids: "{{ lookup('mlperf.storage.abandoned_runs', controller_run_base, wantlist=True) }}"
"""

RETURN = r"""
_raw:
  description: Run ids.
  type: list
  elements: str
"""

from ansible.plugins.lookup import LookupBase
from ansible_collections.mlperf.storage.plugins.plugin_utils._earlier_runs import abandoned_run_ids


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        found = []
        for term in terms:
            found.extend(abandoned_run_ids(str(term)))
        return found
