# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Rule 4.3.5 (checkpointSubsetRunValidation) on synthetic runs: CLOSED takes only the edition's subset form, the
declared flag is the 8B claim in every division, and a smaller OPEN run in subset mode is judged by its process count
(4.6.4), as upstream's run checker and validator do; the subset form is edition data."""
import copy

from test_rules_checks import both, build, check, setp

from ansible_collections.mlperf.storage.plugins.plugin_utils.rules.edition import Edition, load_edition
from ansible_collections.mlperf.storage.plugins.plugin_utils.rules.issues import verdict_of

SUBSET_70B = both(setp("model", "llama3-70b"), setp("override_parameters.checkpoint.mode", "subset"),
                  setp("override_parameters.model.parallelism.data", 8), setp("parameters.checkpoint.mode", "subset"))
DECLARED = setp("args.checkpoint_subset", True)


def test_closed_refuses_a_subset_of_another_model_whichever_signal_says_subset():
    flagged = both(setp("model", "llama3-70b"), DECLARED)
    for mutation, what in ((SUBSET_70B, "subset checkpointing"),
                           (flagged, "a declared subset run (args.checkpoint_subset)")):
        issues = check("check_checkpoint_subset", build("checkpointing", mutation))
        assert verdict_of(issues) == "INVALID"
        assert issues[0].message == "%s is only valid for llama3-8b on exactly 8 processes (got llama3-70b on 8)" % what
        assert issues[0].expected == "llama3-8b on 8 processes"


def test_an_open_run_below_the_full_count_in_subset_mode_is_left_to_the_process_count():
    run = build("checkpointing", SUBSET_70B, division="open")
    assert check("check_checkpoint_subset", run, division="open") == []
    assert verdict_of(check("check_checkpoint_processes", run, division="open")) == "OPEN"


def test_the_declared_flag_outside_its_form_is_invalid_in_open_too():
    for mutation in (both(setp("model", "llama3-70b"), DECLARED), both(setp("num_processes", 16), DECLARED)):
        issues = check("check_checkpoint_subset", build("checkpointing", mutation, division="open"), division="open")
        assert verdict_of(issues) == "INVALID" and "a declared subset run" in issues[0].message


def test_the_subset_process_count_is_read_from_the_edition():
    data = copy.deepcopy(load_edition("3.0").data)
    data["checkpointing"]["subset_processes"] = 16
    edition = Edition(data)
    assert verdict_of(check("check_checkpoint_subset", build("checkpointing", DECLARED))) == "CLOSED"
    at_16 = build("checkpointing", both(setp("num_processes", 16), DECLARED))
    assert verdict_of(check("check_checkpoint_subset", at_16, edition=edition)) == "CLOSED"
    assert verdict_of(check("check_checkpoint_subset", at_16)) == "INVALID"
