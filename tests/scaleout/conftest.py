"""Two worker processes over PostgreSQL and Redis, for the whole module (tests/deployment.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.deployment import Deployment, two_workers


@pytest.fixture(scope="module")
def deployment(tmp_path_factory) -> Iterator[Deployment]:
    with two_workers(tmp_path_factory.mktemp("scaleout")) as deployment:
        yield deployment
