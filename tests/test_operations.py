"""What an operator relies on: health probes and production settings that pass Django's
deployment checks."""

import asyncio
import json
from unittest import mock

import pytest

from tests.live_server import manage, server_env


def test_healthz_answers_without_touching_the_database(client):
    response = client.get("/healthz")  # no database fixture: a query would raise here
    assert response.status_code == 200
    assert response.content == b"ok\n"


@pytest.mark.django_db(transaction=True)
async def test_readyz_is_ready_when_the_database_and_channel_layer_answer(async_client):
    response = await async_client.get("/readyz")
    assert response.status_code == 200
    assert response.content == b"ready\n"


@pytest.mark.django_db(transaction=True)
async def test_probes_and_metrics_answer_by_address_behind_https_settings(async_client, settings):
    """A container's own health check, or Prometheus, asks 10.0.0.5 over plain HTTP; with
    production settings that host is not allowed and plain HTTP is redirected, but not for
    these."""
    settings.ALLOWED_HOSTS = ["chat.example.org"]
    settings.SECURE_SSL_REDIRECT = True
    for path, start in (("/healthz", b"ok\n"), ("/readyz", b"ready\n"), ("/metrics", b"# HELP")):
        response = await async_client.get(path, headers={"host": "10.0.0.5:8000"})
        assert response.status_code == 200
        assert response.content.startswith(start)
    page = await async_client.get("/", headers={"host": "10.0.0.5:8000"})
    assert page.status_code == 400  # everything else still checks the host


@pytest.mark.django_db(transaction=True)
async def test_readyz_names_the_part_that_does_not_answer(async_client):
    async def hanging():
        await asyncio.sleep(60)

    with (
        mock.patch("chat.realtime.layer_answers", hanging),
        mock.patch("chat.views.HEALTH_TIMEOUT_SECONDS", 0.1),
    ):
        response = await async_client.get("/readyz")
    assert response.status_code == 503
    assert response.content == b"not ready: channel_layer\n"


def test_production_settings_pass_the_deployment_checks(tmp_path):
    env = server_env(
        tmp_path,
        DJANGO_HTTPS="1",
        DJANGO_SECRET_KEY="a-long-random-production-key-" + "x7Qp2Lm9" * 6,
        DJANGO_ALLOWED_HOSTS="chat.example.org",
        DJANGO_CSRF_TRUSTED_ORIGINS="https://chat.example.org",
    )
    manage(env, "check", "--deploy", "--fail-level", "WARNING")  # raises on any warning


def test_migrate_makes_the_var_folder_when_a_secret_key_is_given(tmp_path):
    var_dir = tmp_path / "not" / "made" / "yet"
    env = server_env(var_dir, DJANGO_SECRET_KEY="k" * 50)
    manage(env, "migrate", "--no-input")
    assert (var_dir / "db.sqlite3").is_file()


def test_the_metrics_page_serves_the_chat_figures_in_prometheus_format(client):
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    body = response.content.decode()
    for name in ("chat_connections_open", "chat_messages_stored_total", "chat_fanout_seconds"):
        assert name in body


def test_redis_sentinels_in_the_environment_make_the_layer_find_its_master_through_them(
    tmp_path,
):
    env = server_env(
        tmp_path,
        REDIS_SENTINELS="10.0.0.1:26379, [fd00::2]:26380,sentinel-3",
        REDIS_SENTINEL_MASTER="chat-redis",
        REDIS_PASSWORD="s3cret",
    )
    printed = manage(
        env,
        "shell",
        "-c",
        "import json; from django.conf import settings; "
        "print(json.dumps(settings.CHANNEL_LAYERS['default']['CONFIG']['hosts']))",
    )
    [host] = json.loads(printed.splitlines()[-1])  # after the shell's own greeting
    assert host["sentinels"] == [["10.0.0.1", 26379], ["fd00::2", 26380], ["sentinel-3", 26379]]
    assert host["master_name"] == "chat-redis"
    assert host["password"] == "s3cret"
    assert host["socket_timeout"] > 5  # past the layer's blocking read, as with REDIS_URL
