"""The fault suite: real workers over real PostgreSQL and Redis, broken on purpose while a
crowd posts; each test ends with the invariant (tests/faults/crowd.py) and its figures."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.faults import crowd
from tests.faults.cluster import template_database


@pytest.fixture(scope="session")
def template(tmp_path_factory) -> Iterator[tuple[str, dict[str, str]]]:
    with template_database(tmp_path_factory.mktemp("faults-template")) as made:
        yield made


def pytest_terminal_summary(terminalreporter):
    if crowd.REPORTS:
        terminalreporter.section("fault suite: what each fault cost")
        for line in crowd.REPORTS:
            terminalreporter.write_line(line)
