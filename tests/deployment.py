"""A deployment as in production: worker processes on their own ports (the production command,
`bin/serve`), sharing one PostgreSQL database and one Redis.

Each deployment makes its own database (dropped afterwards) and its own Redis key prefix
(deleted afterwards). Without PostgreSQL at SCALEOUT_POSTGRES (default
postgres://postgres@127.0.0.1:5432) or Redis at SCALEOUT_REDIS (default
redis://127.0.0.1:6379/14), the tests that need one skip and say why.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.live_server import LiveServer, manage, server_env, start_server

POSTGRES = os.environ.get("SCALEOUT_POSTGRES", "postgres://postgres@127.0.0.1:5432")
REDIS = os.environ.get("SCALEOUT_REDIS", "redis://127.0.0.1:6379/14")


def _postgres_admin():
    import psycopg

    try:
        return psycopg.connect(f"{POSTGRES}/postgres", autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL at {POSTGRES} is not reachable: {exc}".strip())


def _redis_client():
    import redis

    client = redis.Redis.from_url(REDIS, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.skip(f"Redis at {REDIS} is not reachable: {exc}")
    return client


# Test crowds come from one address and post far faster than people: no limit gets in the way.
UNLIMITED = {
    "CHAT_RATE_BURST": "100000",
    "CHAT_RATE_PER_SECOND": "100000",
    "CHAT_RATE_ADDRESS_BURST": "100000",
    "CHAT_RATE_ADDRESS_PER_SECOND": "100000",
    "CHAT_JOINS_PER_MINUTE": "100000",
    "CHAT_JOINS_PER_MINUTE_PER_ADDRESS": "100000",
    "CHAT_SOCKETS_PER_MINUTE_PER_ADDRESS": "100000",
    "CHAT_READS_PER_MINUTE": "100000",
}


@dataclass
class Deployment:
    env: dict[str, str]
    workers: list[LiveServer]


@contextmanager
def two_workers(var_dir: Path) -> Iterator[Deployment]:
    admin = _postgres_admin()
    redis_client = _redis_client()
    name = f"chat_scaleout_{secrets.token_hex(4)}"
    prefix = f"scaleout-{secrets.token_hex(4)}"
    admin.execute(f'CREATE DATABASE "{name}"')
    (var_dir / "prometheus").mkdir()
    env = server_env(
        var_dir,
        PROMETHEUS_MULTIPROC_DIR=str(var_dir / "prometheus"),
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),  # shared: a session works on any worker
        DATABASE_URL=f"{POSTGRES}/{name}",
        REDIS_URL=REDIS,
        CHANNELS_REDIS_PREFIX=prefix,
        **UNLIMITED,
    )
    workers: list[LiveServer] = []
    try:
        manage(env, "migrate", "--no-input")
        manage(env, "collectstatic", "--no-input")
        workers = [start_server(env, var_dir / f"worker{n}.log") for n in (1, 2)]
        yield Deployment(env, workers)
    finally:
        for worker in workers:
            worker.stop()
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()
        for key in redis_client.scan_iter(f"{prefix}*"):
            redis_client.delete(key)
        redis_client.close()
