"""How long a search takes (chat.selectors.search.search_messages) in a room of 100,000
messages: words common and rare, a part of a word, Chinese, Japanese and Korean text, a
two-character word, several words, and a second page. Prints the median of 5 runs of each
and the query plan. Run on a throwaway database:

    DJANGO_DEBUG=1 DJANGO_VAR_DIR=/tmp/searchlook .venv/bin/python bench/search_look.py
    DJANGO_DEBUG=1 DATABASE_URL=postgres://postgres@127.0.0.1:5432/searchlook \\
        .venv/bin/python bench/search_look.py
"""

import os
import random
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from chat import selectors, services  # noqa: E402
from chat.models import Room, User  # noqa: E402

MESSAGES = 100_000
# The words of a made-up team's day, one string to keep the list short.
VOCABULARY = """deploy release review meeting lunch server database cache queue worker socket
page design test build merge branch ticket customer invoice budget coffee weekend holiday
morning evening tomorrow yesterday question answer problem solution idea plan"""
WORDS = VOCABULARY.split()
OTHER_SCRIPTS = [
    "東京で会いましょう",
    "明天的会议取消了",
    "오늘 회의는 취소되었습니다",
    "Привет, как дела?",
]
QUERIES = {
    "common word (deploy)": "deploy",
    "rare word (xylophone)": "xylophone",
    "part of a word (ploy)": "ploy",
    "Japanese (東京)": "東京",
    "Chinese (会议取消)": "会议取消",
    "Korean (회의)": "회의",
    "two words (coffee budget)": "coffee budget",
    "nothing matches (zzzqqq)": "zzzqqq",
}


def texts() -> list[str]:
    rng = random.Random(7)
    made = []
    for n in range(MESSAGES):
        if n % 50 == 0:
            made.append(rng.choice(OTHER_SCRIPTS))
        elif n % 10_000 == 1:
            made.append("who brought the xylophone?")
        else:
            made.append(" ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 14))))
    return made


def timed(function) -> float:
    runs = []
    for _ in range(5):
        started = time.perf_counter()
        function()
        runs.append((time.perf_counter() - started) * 1000)
    return statistics.median(runs)


def main() -> None:
    call_command("migrate", verbosity=0)
    person, _ = User.objects.get_or_create(username="searcher", display_name="Searcher")
    room, made = Room.objects.get_or_create(name="Search look")
    if made:
        started = time.perf_counter()
        all_texts = texts()
        for start in range(0, MESSAGES, 10_000):
            services.messages_import(
                room_id=room.pk, sender=person, texts=all_texts[start : start + 10_000]
            )
        print(f"stored {MESSAGES} messages in {time.perf_counter() - started:.1f} s")
        with connection.cursor() as cursor:  # as autovacuum would, soon after
            cursor.execute("ANALYZE")
    print(f"{connection.vendor}, {room.messages.count()} messages in the room")
    for name, query in QUERIES.items():
        results = selectors.search_messages(person=person, query=query, room_id=room.pk)
        ms = timed(lambda q=query: selectors.search_messages(person=person, query=q))
        print(f"  {name:28} {len(results.hits):3} hits  {ms:7.1f} ms (all rooms)")
    first = selectors.search_messages(person=person, query="deploy")
    ms = timed(
        lambda: selectors.search_messages(person=person, query="deploy", before=first.next_before)
    )
    print(f"  {'second page (deploy)':28}        {ms:7.1f} ms")


if __name__ == "__main__":
    main()
