"""The Allure folder scimcert writes (`reports/allure-results/`): allure-pytest's own file logger, which writes each
file as it will stay, so nothing is read back, rewritten or deleted after the run.

- **Containers.** allure-pytest writes a container for every fixture of every check, and one for each parameter
  of a parametrized check. A parameter's names no test (no `children`), so Allure shows it nowhere. The
  containers of scimcert's own per-check fixtures (HARNESS_FIXTURES) say only that a check had its harness, when
  they set up and tore down cleanly. Neither kind is written: a clean run would otherwise write some 1,300 such
  files (0.4 s) for nothing. A container that failed is written, and so is every other fixture's (the target's, a
  suite's own).
- **Results.** The labels of the machine and the tool (ALLURE_NOISE) are left out. A check's docstring, the
  same on each of its parameter sets, stays on the first (by name), and the others say where it is; a warned
  check's description is its warning, and stays.

A folder the user names with `--alluredir` keeps allure-pytest's own logger, untouched.
"""

from __future__ import annotations

from collections.abc import Iterable

import allure_commons
import pytest
from allure_commons.logger import AllureFileLogger
from allure_pytest.utils import allure_full_name

HARNESS_FIXTURES = ("verdict", "client", "users")  # scimcert's own per-check fixtures (scimcert/plugin.py)
ALLURE_NOISE = ("host", "thread", "framework", "language")  # labels allure-pytest adds that say nothing of a check
WARNED = "scimcert_outcome"  # the label scimcert gives a check that only warned (its description is the warning)


class AllureFiles(AllureFileLogger):
    first_names: dict[str, str] = {}  # a check's Allure fullName → the name of its first parameter set

    def describe_once(self, items: Iterable[pytest.Item]) -> None:
        """Learn each check's first parameter set (by name) among the items the run collected."""
        self.first_by_name((allure_full_name(item), item.name) for item in items)

    def first_by_name(self, checks: Iterable[tuple[str, str]]) -> None:
        """Learn each check's first parameter set from the (Allure fullName, name) of each."""
        names: dict[str, list[str]] = {}
        for check, name in checks:
            names.setdefault(check, []).append(name)
        self.first_names = {check: min(sets) for check, sets in names.items()}

    @allure_commons.hookimpl
    def report_result(self, result) -> None:
        result.labels = [label for label in result.labels if label.name not in ALLURE_NOISE]
        first = self.first_names.get(result.fullName)
        warned = any(label.name == WARNED for label in result.labels)
        if first is not None and result.name != first and result.description and not warned:
            result.description = f"Described in {first}."
        super().report_result(result)

    @allure_commons.hookimpl
    def report_container(self, container) -> None:
        if says_something(container):
            super().report_container(container)


def says_something(container) -> bool:
    """Whether an Allure fixture container (allure_commons.model2.TestResultContainer) is worth a file: it names a
    test, and it is not one of scimcert's own per-check fixtures that set up and tore down cleanly (an after
    without a status ended cleanly: allure-pytest leaves it unset)."""
    fixtures = container.befores + container.afters
    harness = bool(container.befores) and all((f.name or "").split("::")[0] in HARNESS_FIXTURES for f in fixtures)
    clean = (all(f.status == "passed" for f in container.befores)
             and all(f.status in (None, "passed") for f in container.afters))
    return bool(container.children) and not (harness and clean)


def adopt() -> AllureFiles | None:
    """Make this process's registered allure-pytest file logger an AllureFiles, in place: the same object under the
    same name, so allure-pytest's own cleanup still finds it. None when there is none (allure-pytest disabled, or
    not writing files)."""
    manager = allure_commons.plugin_manager
    for logger in manager.get_plugins():
        if type(logger) is AllureFileLogger:
            name = manager.get_name(logger)
            manager.unregister(logger)
            logger.__class__ = AllureFiles
            manager.register(logger, name)
            return logger
    return None
