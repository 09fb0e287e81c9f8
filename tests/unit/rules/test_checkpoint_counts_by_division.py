# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Checkpoint counts other than 10 writes and 10 reads (rules Table 3): INVALID in CLOSED, OPEN in OPEN, where the
counts may change (checkpointing_num_checkpoints_write/read)."""
import os
import shutil

from ansible_collections.mlperf.storage.plugins.plugin_utils.rules import verify_tree

from _rules_helpers import CORPUS, NEWFW_C, bad, copy_corpus, require_corpus, submission

READ_PHASE = "20260713_162955"


def totals(sub, validation):
    return [i for i in bad(sub["issues"], validation) if i["rule_id"] == "4.6-TOTAL"]


def test_a_write_only_result_is_invalid_in_closed_and_open_in_open(tmp_path):
    closed = copy_corpus(tmp_path / "c", NEWFW_C)
    shutil.rmtree(os.path.join(closed, NEWFW_C, READ_PHASE))
    sub = submission(verify_tree(closed).to_dict(), "checkpointing")
    assert sub["verdict"] == "INVALID" and totals(sub, "INVALID")[0]["actual"] == "10/0"

    require_corpus()
    open_path = "open" + NEWFW_C[len("closed"):]
    root = tmp_path / "o"
    shutil.copytree(os.path.join(CORPUS, NEWFW_C), os.path.join(root, open_path))
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            os.chmod(os.path.join(dirpath, name), 0o755 if name in dirnames else 0o644)
    shutil.rmtree(os.path.join(root, open_path, READ_PHASE))
    sub = submission(verify_tree(str(root)).to_dict(), "checkpointing")
    assert not totals(sub, "INVALID"), sub["issues"]
    [total] = totals(sub, "OPEN")
    assert total["actual"] == "10/0" and "CLOSED has exactly 10 of each" in total["message"]
