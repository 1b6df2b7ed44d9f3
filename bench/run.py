"""Run the benchmark: `make bench`, or `.venv/bin/python -m bench.run --help`.

For each scenario it starts a fresh product server (and a fresh reference server), drives
it from this process (pinned to the other core), and at the end prints the table and
writes a dated JSON file, the latency chart and the product's profile to bench/results/.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
import traceback
from datetime import datetime
from importlib import metadata
from pathlib import Path

import uvloop

from bench import report, scenarios, servers
from bench.scenarios import Options

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def rate_list(text: str) -> list[float]:
    return [float(rate) for rate in text.split(",") if rate]


def parse_arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.run",
        description="Load-test the chat server against a plain websockets reference.",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="3 s steps, three rates per climb, 400 idle sockets, a 10,000-message history "
        "room: a few minutes, for checking the benchmark itself",
    )
    parser.add_argument(
        "--scenario",
        action="append",
        choices=list(scenarios.SCENARIOS),
        help="run only this scenario (repeat for several)",
    )
    parser.add_argument(
        "--step-seconds",
        type=float,
        help="seconds per send rate (default 10, the issue's definition of max rate)",
    )
    parser.add_argument("--one-room-rates", type=rate_list, help="e.g. 500,1000,1500")
    parser.add_argument("--many-rooms-rates", type=rate_list, help="aggregate, e.g. 1000,2000")
    parser.add_argument("--idle-connections", type=int, help="default 2000")
    parser.add_argument("--history-large", type=int, help="messages in the large room (100000)")
    parser.add_argument(
        "--postgres",
        metavar="URL",
        default="",
        help="run the product over this PostgreSQL server (a URL without a database name, "
        "e.g. postgres://postgres@127.0.0.1:5432); it makes and drops its own database",
    )
    parser.add_argument(
        "--redis",
        metavar="URL",
        default="",
        help="run the product over this Redis (e.g. redis://127.0.0.1:6379/13), "
        "under its own key prefix",
    )
    parser.add_argument(
        "--workers", type=int, default=1, help="product worker processes (several need --redis)"
    )
    parser.add_argument(
        "--server-cores",
        default=servers.SERVER_CORES,
        help="cores the server processes may use, as taskset -c takes them (default 0; "
        "the load generator keeps core 1)",
    )
    parser.add_argument("--no-reference", action="store_true", help="the product only")
    parser.add_argument("--no-profile", action="store_true", help="skip the py-spy profile")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    return parser.parse_args(argv)


def build_options(arguments: argparse.Namespace, stamp: str) -> Options:
    options = Options()
    if arguments.quick:
        options.step_seconds = 3
        options.one_room_rates = [200, 1000, 2500]
        options.many_rooms_rates = [500, 2000, 6000]
        options.idle_connections = 400
        options.history_large = 10_000
        options.history_runs = 5
        options.slow_reader_seconds = 5
        options.slow_reader_rate = 800  # fills the server's buffer within the short step
        options.profile_seconds = 3
    if arguments.step_seconds:
        options.step_seconds = arguments.step_seconds
    if arguments.one_room_rates:
        options.one_room_rates = arguments.one_room_rates
    if arguments.many_rooms_rates:
        options.many_rooms_rates = arguments.many_rooms_rates
    if arguments.idle_connections:
        options.idle_connections = arguments.idle_connections
    if arguments.history_large:
        options.history_large = arguments.history_large
    if not arguments.no_profile and arguments.workers == 1:
        options.profile_to = arguments.results_dir / stamp
    return options


def product_version() -> str:
    try:
        return subprocess.run(
            ["git", "describe", "--always", "--dirty"],
            cwd=servers.PROJECT_DIR,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def machine_description(pinned: bool) -> dict:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cores": os.cpu_count(),
        "cpu": model,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "pinned": pinned,
        "server_core": servers.Server.cores if pinned else "any",
        "loadgen_core": servers.LOADGEN_CORE if pinned else "any",
        "packages": {
            name: metadata.version(name)
            for name in ("django", "channels", "uvicorn", "uvloop", "websockets", "msgspec")
        },
    }


async def run_one(name: str, kind: str, options: Options, product: dict) -> dict:
    server = (
        servers.ProductServer(**product, env=scenarios.SERVER_ENV.get(name))
        if kind == "product"
        else servers.ReferenceServer()
    )
    print(f"\n== {name}: {kind} ==", flush=True)
    started = time.monotonic()
    try:
        await server.start()
        result = await scenarios.SCENARIOS[name](server, options)
        print(f"  ({name} on the {kind} took {time.monotonic() - started:.0f} s)", flush=True)
        complaints = server.log_complaints()
        if complaints:
            result["server_log_complaints"] = complaints
            print(f"  the {kind} server logged {len(complaints)} errors or warnings, first:")
            print("    " + complaints[0][:300], flush=True)
        return result
    except Exception as error:
        traceback.print_exc()
        result = {"error": f"{type(error).__name__}: {error}"}
        if server.process is not None and server.process.poll() is not None:
            result["server_log"] = server.log_tail()
        return result
    finally:
        if server.process is not None and server.process.poll() not in (None, 0, -15):
            print(f"{kind} server exited with {server.process.returncode}:\n{server.log_tail()}")
        server.stop()


async def main(argv: list[str]) -> int:
    arguments = parse_arguments(argv)
    stamp = datetime.now().strftime("%Y-%m-%dT%H%M") + ("-quick" if arguments.quick else "")
    arguments.results_dir.mkdir(parents=True, exist_ok=True)
    options = build_options(arguments, stamp)
    servers.raise_open_files_limit()
    if arguments.workers > 1 and not arguments.redis:
        print("several workers share rooms only through Redis: add --redis URL", file=sys.stderr)
        return 2
    servers.Server.cores = arguments.server_cores
    pinned = servers.pin_this_process_to_loadgen_core() and servers.can_pin()
    product = {
        "postgres": arguments.postgres,
        "redis": arguments.redis,
        "workers": arguments.workers,
    }
    chosen = arguments.scenario or list(scenarios.SCENARIOS)
    results: dict = {
        "date": datetime.now().isoformat(timespec="seconds"),
        "command": " ".join(["python -m bench.run", *argv]),
        "product_version": product_version(),
        "product_setup": servers.ProductServer.describe(**product),
        "machine": machine_description(pinned),
        "options": {key: value for key, value in vars(options).items() if key != "profile_to"},
        "scenarios": {},
    }
    for name in chosen:
        kinds = ["product"]
        if not arguments.no_reference and name not in scenarios.PRODUCT_ONLY:
            kinds.append("reference")
        results["scenarios"][name] = {}
        for kind in kinds:
            results["scenarios"][name][kind] = await run_one(name, kind, options, product)

    json_path = arguments.results_dir / f"{stamp}.json"
    chart_path = arguments.results_dir / f"{stamp}-latency.png"
    results["files"] = {"json": json_path.name}
    if report.draw_latency_chart(results["scenarios"], chart_path):
        results["files"]["chart"] = chart_path.name
    report.write_json(results, json_path)
    print("\n" + report.render(results))
    print(
        f"\nWritten: {', '.join(str(arguments.results_dir / f) for f in results['files'].values())}"
    )
    profile = results["scenarios"].get("one-room", {}).get("product", {}).get("profile")
    if profile and "raw" in profile:
        print(f"Profile: {arguments.results_dir / profile['raw']}, {profile['speedscope']}")
    return 0


if __name__ == "__main__":
    sys.exit(uvloop.run(main(sys.argv[1:])))
