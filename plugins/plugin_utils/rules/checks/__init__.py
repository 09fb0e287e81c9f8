# Copyright: mlperf.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Check registry. A check is a small function that reads a loaded run (or a group of runs)
and returns None, one Issue, or a list of Issues. Registration says which rule it implements
and which runs it applies to; the engine does the rest (exception capture, relaxation)."""
from __future__ import annotations

from dataclasses import dataclass

from ..issues import CLOSED, ERROR, INFO, INVALID, OPEN, WARNING, Issue


@dataclass
class CheckSpec:
    func: object
    name: str
    rule_id: str
    benchmarks: tuple | None
    commands: tuple | None
    planned: bool
    post: bool
    package: bool
    title: str

    def applies(self, run, planned, package_checks) -> bool:
        if self.package and not package_checks:
            return False
        if planned and not self.planned:
            return False
        if not planned and not self.post:
            return False
        if self.benchmarks is not None and run.benchmark not in self.benchmarks:
            return False
        if self.commands is not None and run.command not in self.commands:
            return False
        return True


RUN_CHECKS: list = []
GROUP_CHECKS: list = []


def run_check(rule_id, title, benchmarks=None, commands=("run",), planned=True, post=True, package=False):
    """Register a per-run check. commands=None: any command; planned=False: needs results."""
    def deco(func):
        RUN_CHECKS.append(CheckSpec(func, func.__name__, rule_id, tuple(benchmarks) if benchmarks else None,
                                    tuple(commands) if commands else None, planned, post, package, title))
        return func
    return deco


def group_check(rule_id, title, benchmarks=None, package=False):
    """Register a submission-level check over all runs of one (division, org, system, benchmark, model)."""
    def deco(func):
        GROUP_CHECKS.append(CheckSpec(func, func.__name__, rule_id, tuple(benchmarks) if benchmarks else None,
                                      None, False, True, package, title))
        return func
    return deco


@dataclass(eq=False)
class Ctx:
    """What a check sees: the subject (run or group), the edition and the division."""

    edition: object  # rules.edition.Edition
    division: str
    planned: bool = False
    run: object = None  # rules.loader.Run, for a run check
    group: object = None  # the runs of one submission, for a group check

    @property
    def closed_division(self) -> bool:
        return self.division == "closed"

    def section(self, benchmark=None):
        bench = benchmark or (self.run.benchmark if self.run else self.group.benchmark)
        return self.edition.section(bench)

    # issue constructors: rule_id/check are filled in by the engine when not given
    @staticmethod
    def issue(validation, message, severity=None, **kw):
        if severity is None:
            severity = INFO if validation == CLOSED else ERROR
        return Issue(validation, message, severity=severity, **kw)

    def ok(self, message, **kw):
        return self.issue(CLOSED, message, INFO, **kw)

    def open(self, message, **kw):
        return self.issue(OPEN, message, ERROR, **kw)

    def invalid(self, message, **kw):
        return self.issue(INVALID, message, ERROR, **kw)

    def warn(self, message, **kw):
        return self.issue(CLOSED, message, WARNING, **kw)


def all_checks():
    """Import the check modules (registration happens at import) and return the registries."""
    from . import checkpointing, common, kv_cache, submission, training, vector_db
    del checkpointing, common, kv_cache, submission, training, vector_db  # imported for registration
    return RUN_CHECKS, GROUP_CHECKS


__all__ = ["run_check", "group_check", "Ctx", "all_checks", "CLOSED", "OPEN", "INVALID", "WARNING", "INFO", "ERROR"]
