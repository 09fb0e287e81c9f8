# -*- coding: utf-8 -*-
# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller-side sizing of a planned cluster (documented in plugins/modules/datasize.py)."""
from __future__ import annotations

from ansible_collections.mlperf.storage.plugins.plugin_utils._controller_action import ControllerAction
from ansible_collections.mlperf.storage.plugins.plugin_utils import _sizing
from ansible_collections.mlperf.storage.plugins.plugin_utils._plan_core import failure_message


class ActionModule(ControllerAction):
    # Numbers, the edition, the params and the write flag are taken as given (raw) and checked by _sizing, so a bad
    # value is reported with the playbook variable that holds it, what was expected and the fix.
    ARGUMENT_SPEC = {
        "model": {"type": "str"},
        "accelerator": {"type": "str"},
        "edition": {"type": "raw"},
        "division": {"type": "str"},
        "num_client_hosts": {"type": "raw"},
        "client_memory_gb": {"type": "raw"},
        "accelerators_per_host": {"type": "raw"},
        "max_accelerators": {"type": "raw"},
        "params": {"type": "raw"},
        "write": {"type": "raw", "default": False},
        "results_dir": {"type": "str"},
        "data_dir": {"type": "str"},
        "org": {"type": "str"},
        "system": {"type": "str"},
    }

    def act(self, result, args, task_vars):
        answer = _sizing.datasize_answer(args)
        result["changed"] = False
        if answer["warnings"]:
            result["warnings"] = list(answer["warnings"])
        if answer["errors"]:
            result.update(failed=True, msg=failure_message("datasize", answer["errors"]), errors=answer["errors"])
            return result
        sizing = {k: v for k, v in answer.items() if k not in ("errors", "warnings", "lines", "leaf")}
        result.update(benchmark=answer["benchmark"], lines=answer["lines"], sizing=sizing,
                      msg="\n".join(answer["lines"]))
        if "leaf" in answer:
            result["leaf"] = answer["leaf"]
        return result
