#!/usr/bin/env python3
"""A small bot for the chat's API, in plain Python (no packages to install).

It follows one room's log by long polling, exactly as a browser's socket sees it, and
answers:

    !ping          -> pong
    !roll          -> a die's roll, 1 to 6
    !echo <words>  -> the words back, as a reply

and reacts 👀 to every message that mentions "bot". Run it with a token from your account
page (or `manage.py api_token NAME --name bot`):

    CHAT_URL=http://127.0.0.1:8000 CHAT_TOKEN=chat_... python3 docs/example_bot.py ROOM_ID

Every post carries a client id made from the message it answers, so if the bot is
restarted, or a request times out and is sent again, nothing is posted twice.
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

WAIT_SECONDS = 25  # how long one long poll waits for the next event


class Chat:
    def __init__(self, url: str, token: str) -> None:
        self.url = url.rstrip("/") + "/api/v1"
        self.token = token

    def call(self, method: str, path: str, body: dict | None = None, **query) -> dict:
        url = self.url + path
        if query:
            url += "?" + urllib.parse.urlencode({k: v for k, v in query.items() if v is not None})
        request = urllib.request.Request(
            url,
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        while True:
            try:
                with urllib.request.urlopen(request, timeout=WAIT_SECONDS + 10) as answer:
                    return json.load(answer)
            except urllib.error.HTTPError as error:
                refusal = json.load(error)
                if refusal.get("retry_after_ms") is not None:
                    # Rate limited, or the server's database was briefly away: the same
                    # request again (the same client id) is safe.
                    time.sleep(refusal["retry_after_ms"] / 1000)
                    continue
                raise SystemExit(
                    f"{method} {path}: {error.code} {refusal.get('code')}: {refusal.get('detail')}"
                ) from None


def answer_to(text: str) -> str | None:
    command, _, rest = text.strip().partition(" ")
    if command == "!ping":
        return "pong"
    if command == "!roll":
        return f"🎲 {random.randint(1, 6)}"
    if command == "!echo" and rest.strip():
        return rest.strip()
    return None


def run(chat: Chat, room_id: int, *, once: bool = False) -> None:
    me = chat.call("GET", "/me")["id"]
    room = chat.call("GET", f"/rooms/{room_id}")
    after, epoch = room["last_seq"], room["epoch"]  # only what is said from now on
    print(f"following {room['name']!r} from #{after}", flush=True)
    while True:
        page = chat.call(
            "GET", f"/rooms/{room_id}/events", after=after, epoch=epoch, wait=WAIT_SECONDS
        )
        if page["type"] == "reset":  # a restored backup, or too far behind: start afresh
            after, epoch = page["last_seq"], page["epoch"]
            continue
        for event in page["events"]:
            if event["type"] != "message.created":
                continue
            message = event["message"]
            if message["sender"]["id"] == me:
                continue  # its own answers
            reply = answer_to(message["text"])
            if reply is not None:
                posted = chat.call(
                    "POST",
                    f"/rooms/{room_id}/messages",
                    {
                        "client_id": f"bot-answer-{room_id}-{message['seq']}",
                        "text": reply,
                        "reply_to": message["seq"],
                    },
                )
                print(f"answered #{message['seq']} with #{posted['seq']}", flush=True)
                if once:
                    return
            elif "bot" in message["text"].lower():
                emoji = urllib.parse.quote("👀")
                chat.call("PUT", f"/rooms/{room_id}/messages/{message['seq']}/reactions/{emoji}")
        after = page["last_seq"]


if __name__ == "__main__":
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    run(
        Chat(os.environ.get("CHAT_URL", "http://127.0.0.1:8000"), os.environ["CHAT_TOKEN"]),
        int(sys.argv[1]),
        once="--once" in sys.argv,
    )
