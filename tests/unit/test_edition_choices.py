# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The config role offers exactly the rules editions that have data, and its default is the default edition."""
import os

import yaml

from _testpaths import REPO
from ansible_collections.mlperf.storage.plugins.plugin_utils import _workloads
from ansible_collections.mlperf.storage.plugins.plugin_utils.rules.edition import (
    DEFAULT_EDITION, available_editions)


def _edition_option():
    with open(os.path.join(REPO, "roles", "config", "meta", "argument_specs.yml"), encoding="utf-8") as fh:
        spec = yaml.safe_load(fh)
    return spec["argument_specs"]["main"]["options"]["mlperf_edition"]


def test_choices_are_the_editions_with_data():
    # a new rules/editions/<x>.yaml must be offered by the config role too (and a choice needs its data)
    assert sorted(str(c) for c in _edition_option()["choices"]) == sorted(available_editions())


def test_the_default_is_the_default_edition():
    assert str(_edition_option()["default"]) == DEFAULT_EDITION
    with open(os.path.join(REPO, "roles", "config", "defaults", "main.yml"), encoding="utf-8") as fh:
        assert str(yaml.safe_load(fh)["mlperf_edition"]) == DEFAULT_EDITION


def test_the_settings_check_knows_the_same_editions():
    # _inputs checks mlperf_edition against _workloads.editions() before any plan
    assert sorted(_workloads.editions()) == sorted(available_editions())
    assert DEFAULT_EDITION in available_editions()
