# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""docs/migrating.md: every upstream command has a row, every row is mapped or says why not, and every test a row
names exists (the file, and the test function where one is named)."""
import os
import re

from _testpaths import REPO

DOC = os.path.join(REPO, "docs", "migrating.md")
COMMANDS = ("training <model> datasize", "checkpointing <model> datasize", "training <model> datagen",
            "training <model> run", "training <model> configview", "checkpointing <model> run",
            "checkpointing <model> configview", "vectordb <index> datasize", "vectordb <index> datagen",
            "vectordb <index> run", "kvcache datasize", "kvcache run", "`init`", "`config show", "`reports reportgen`",
            "`validate`", "`status`", "`submit`", "`runs list", "`history show", "`lockfile generate",
            "`rules-coverage`", "`version`")
REF = re.compile(r"(tests/(?:unit|integration)/[\w/]+\.py)|::(\w+)")


def text():
    with open(DOC, encoding="utf-8") as handle:
        return handle.read()


def command_rows():
    body = text()
    table = body[body.index("| upstream command | here | tested by |"):body.index("### Options every command takes")]
    return [line for line in table.splitlines()[2:] if line.startswith("|")]


def test_every_upstream_command_has_a_row_that_maps_it_or_says_why_not():
    rows = command_rows()
    for command in COMMANDS:
        assert [r for r in rows if command in r.split(" | ")[0]], "no row for %s" % command
    for row in rows:
        here = row.split(" | ")[1]
        assert "to be written" not in row
        assert "playbooks/" in here or "not needed" in here or "not provided" in here or "scripts/" in here, row


def test_every_named_test_exists():
    named = 0
    for line in text().splitlines():
        current = None
        for match in REF.finditer(line):
            if match.group(1):
                current = match.group(1)
                assert os.path.isfile(os.path.join(REPO, current)), "%s names a missing file" % current
                named += 1
            elif current:
                with open(os.path.join(REPO, current), encoding="utf-8") as handle:
                    source = handle.read()
                assert re.search(r"^def %s\(" % match.group(2), source, re.M), "%s has no test %s" % (
                    current, match.group(2))
                named += 1
    assert named > 40
