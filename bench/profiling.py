"""py-spy around a load step, and what its collapsed stacks say.

py-spy samples the server from outside (it needs root, or ptrace rights); `--nonblocking`
keeps it from pausing the server at each sample, so the profiled step runs at nearly the
speed it would without it. Its raw output is one line per distinct stack:
`outer (file:line);...;inner (file:line) count`.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections import Counter
from pathlib import Path

from bench.servers import VENV_BIN

SAMPLES_PER_SECOND = 200
FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")
# Frames under which everything runs (thread pools, the event loop's runner, the command
# line): at the top of "total time" they would only say that the server was running.
PLUMBING = re.compile(
    r"\((threading\.py|concurrent/futures/thread\.py|click/core\.py|uvicorn/main\.py"
    r"|uvicorn/server\.py|uvicorn/_compat\.py|uvicorn|asyncio/runners\.py|uvloop/__init__\.py)\)$"
)

Stacks = list[tuple[list[str], int]]


async def start_py_spy(pid: int, raw_path: Path, seconds: int) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        str(VENV_BIN / "py-spy"),
        "record",
        "--pid",
        str(pid),
        "--duration",
        str(seconds),
        "--rate",
        str(SAMPLES_PER_SECOND),
        "--format",
        "raw",
        "--nonblocking",
        "-o",
        str(raw_path),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )


async def finish_py_spy(process: asyncio.subprocess.Process) -> str:
    output, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    return output.decode(errors="replace").strip()[-2000:]


def read_collapsed(path: Path) -> Stacks:
    stacks = []
    for line in path.read_text().splitlines():
        stack, _, count = line.rstrip().rpartition(" ")
        if stack and count.isdigit():
            stacks.append((stack.split(";"), int(count)))
    return stacks


def function_of(frame: str) -> str:
    """'send (uvicorn/x.py:120)' -> 'send (uvicorn/x.py)': one entry per function, not per
    line inside it."""
    match = FRAME.match(frame)
    return f"{match['function']} ({match['file']})" if match else frame


def top_functions(stacks: Stacks, *, count: int) -> dict:
    """The functions with the most samples on top of the stack (own) and anywhere in it
    (total, counting a function once per stack even when it recurses)."""
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    samples = in_worker_threads = 0
    for frames, weight in stacks:
        functions = [function_of(frame) for frame in frames]
        samples += weight
        # Worker threads (sync_to_async, database work) start in threading.py; the rest is
        # the event loop's thread.
        if functions[0].endswith("(threading.py)"):
            in_worker_threads += weight
        own[functions[-1]] += weight
        for function in set(functions):
            if not PLUMBING.search(function):
                total[function] += weight

    def table(counter: Counter[str]) -> list[dict]:
        return [
            {"function": function, "samples": n, "percent": round(100 * n / samples, 1)}
            for function, n in counter.most_common(count)
        ]

    return {
        "samples": samples,
        "worker_threads_percent": round(100 * in_worker_threads / max(samples, 1), 1),
        "top_own": table(own),
        "top_total": table(total),
    }


def write_speedscope(stacks: Stacks, path: Path, *, name: str) -> None:
    """The same stacks as a speedscope file (https://www.speedscope.app): a flame graph."""
    frame_index: dict[str, int] = {}
    frames: list[dict] = []
    samples, weights = [], []
    for stack, weight in stacks:
        indices = []
        for frame in stack:
            if frame not in frame_index:
                frame_index[frame] = len(frames)
                match = FRAME.match(frame)
                entry: dict = {"name": match["function"] if match else frame}
                if match and match["file"]:
                    entry["file"] = match["file"]
                if match and match["line"]:
                    entry["line"] = int(match["line"])
                frames.append(entry)
            indices.append(frame_index[frame])
        samples.append(indices)
        weights.append(weight)
    document = {
        "$schema": "https://www.speedscope.app/file-format-schema.json",
        "name": name,
        "exporter": "bench/profiling.py",
        "shared": {"frames": frames},
        "profiles": [
            {
                "type": "sampled",
                "name": name,
                "unit": "none",
                "startValue": 0,
                "endValue": sum(weights),
                "samples": samples,
                "weights": weights,
            }
        ],
    }
    path.write_text(json.dumps(document))
