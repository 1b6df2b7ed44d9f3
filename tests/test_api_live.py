"""The API on a real server (the production command, uvicorn): schemathesis generates
calls from its own OpenAPI document and checks every answer against it, and the example
bot in docs/ follows a room and answers in it."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.deployment import UNLIMITED
from tests.live_server import ROOT, LiveServer, manage, server_env, start_server

SETUP = """
from chat.models import Room, User
from chat import services
for name in ("Ana", "Bo"):
    User.objects.create_user(name, password="a long enough password")
room = Room.objects.create(name="General")
services.messages_import(room_id=room.pk, sender=User.objects.get(username="ana"), texts=["hello"])
print(room.pk)
"""


@dataclass
class ApiServer:
    server: LiveServer
    room_id: int
    tokens: dict[str, str]

    def call(self, who: str, method: str, path: str, body: object | None = None) -> dict:
        request = urllib.request.Request(
            f"{self.server.url}/api/v1{path}",
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={
                "Authorization": f"Bearer {self.tokens[who]}",
                "Content-Type": "application/json",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                return json.load(answer)
        except urllib.error.HTTPError as error:
            return json.load(error)


@pytest.fixture(scope="module")
def api(tmp_path_factory) -> Iterator[ApiServer]:
    var_dir = tmp_path_factory.mktemp("api")
    # A short long poll: schemathesis may ask any operation many times.
    env = server_env(var_dir, **UNLIMITED, CHAT_API_WAIT_MAX_SECONDS="0.5")
    manage(env, "migrate", "--no-input")
    room_id = int(manage(env, "shell", "--no-imports", "-c", SETUP).strip().splitlines()[-1])
    tokens = {
        who: manage(env, "api_token", who, "--name", "tests").strip() for who in ("Ana", "Bo")
    }
    server = start_server(env, var_dir / "server.log")
    try:
        yield ApiServer(server, room_id, tokens)
    finally:
        server.stop()


def operations(api: ApiServer):
    schema = schemathesis.openapi.from_url(f"{api.server.url}/api/v1/openapi.json")
    return [result.ok() for result in schema.get_all_operations()]


def test_every_operation_answers_as_its_openapi_document_says(api: ApiServer):
    # (Driven here rather than by schemathesis' pytest plugin, which does not run under
    # pytest 9: its lazy loading sets a node attribute pytest no longer has.)
    headers = {"Authorization": f"Bearer {api.tokens['Ana']}"}
    checked = []
    for operation in operations(api):

        @given(case=operation.as_strategy())
        @settings(
            max_examples=30,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        )
        def answers_as_documented(case) -> None:
            # Not "every schema-valid request is accepted": some refusals need the data (a
            # blank text, a reply to no message, editing a deleted one), and they answer
            # 400, 404 or 410 with their code, as the socket does.
            case.call_and_validate(
                headers=headers, timeout=10, excluded_checks=[positive_data_acceptance]
            )

        answers_as_documented()
        checked.append(f"{operation.method.upper()} {operation.path}")
    assert len(checked) >= 10, checked


def test_reactions_by_emoji_in_the_url(api: ApiServer):
    posted = api.call(
        "Ana", "POST", f"/rooms/{api.room_id}/messages", {"client_id": "r-1", "text": "react"}
    )
    path = f"/rooms/{api.room_id}/messages/{posted['seq']}/reactions/{urllib.parse.quote('🎉')}"
    reacted = api.call("Bo", "PUT", path)
    assert reacted["reactions"] == [
        {
            "emoji": "🎉",
            "people": [api.call("Bo", "GET", "/me")],
        }
    ]
    assert api.call("Bo", "DELETE", path).get("reactions") is None


def test_the_example_bot_follows_a_room_and_answers_in_it(api: ApiServer):
    bot = subprocess.Popen(
        [sys.executable, str(ROOT / "docs" / "example_bot.py"), str(api.room_id), "--once"],
        env={"CHAT_URL": api.server.url, "CHAT_TOKEN": api.tokens["Ana"], "PATH": ""},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert "following 'General'" in (bot.stdout.readline() if bot.stdout else "")
        hey = api.call(
            "Bo", "POST", f"/rooms/{api.room_id}/messages", {"client_id": "b-1", "text": "hey bot"}
        )
        echo = api.call(
            "Bo",
            "POST",
            f"/rooms/{api.room_id}/messages",
            {"client_id": "b-2", "text": "!echo hello there"},
        )
        output, _ = bot.communicate(timeout=20)
    finally:
        bot.kill()
    assert bot.returncode == 0, output
    latest = api.call("Bo", "GET", f"/rooms/{api.room_id}/messages?limit=3")["messages"]
    answer = latest[-1]
    assert (answer["text"], answer["sender"]["name"], answer["reply_to"]["seq"]) == (
        "hello there",
        "Ana",
        echo["seq"],
    )
    reacted = next(m for m in latest if m["seq"] == hey["seq"])
    assert reacted["reactions"][0]["emoji"] == "👀"
    # Started again, it would answer the same message under the same client id: once.
    again = api.call(
        "Ana",
        "POST",
        f"/rooms/{api.room_id}/messages",
        {"client_id": f"bot-answer-{api.room_id}-{echo['seq']}", "text": "hello there"},
    )
    assert again["seq"] == answer["seq"]
