"""The boundaries of DESIGN.md that import-linter cannot state (make lint checks the rest):
only the realtime layer reaches the channel layer, and only services announce."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CHAT = Path(__file__).resolve().parent.parent / "chat"


def modules() -> list[tuple[str, ast.Module]]:
    return [
        (str(path.relative_to(CHAT)), ast.parse(path.read_text()))
        for path in sorted(CHAT.rglob("*.py"))
        if "migrations" not in path.parts
    ]


def imported(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_only_the_realtime_layer_imports_the_channel_layer():
    reaching = [
        name
        for name, tree in modules()
        if any(n.startswith(("channels.layers", "channels_redis")) for n in imported(tree))
    ]
    assert reaching and all(name.startswith("realtime/") for name in reaching), reaching


@pytest.mark.parametrize("call", ["announce", "notify_person", "restrict"])
def test_only_services_announce_changes_to_a_room_or_hint_them_to_a_person(call):
    announcing = [
        name
        for name, tree in modules()
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and node.attr == call
        and isinstance(node.value, ast.Name)
        and node.value.id == "realtime"
    ]
    assert announcing and all(name.startswith("services/") for name in announcing), announcing
