"""The run's output: the table on the terminal, the JSON file, the latency chart."""

from __future__ import annotations

import json
from pathlib import Path

from bench.loadgen import P99_LIMIT_SECONDS


def _get(result: dict | None, *keys: str):
    value = result
    for key in keys:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def _ratio(product, reference) -> str:
    if not isinstance(product, int | float) or not isinstance(reference, int | float):
        return "-"
    if reference == 0:
        return "-"
    return f"{product / reference:.2f}"


def _number(value, unit: str = "", digits: int = 0) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, int | float):
        return f"{value:,.{digits}f}{unit}"
    return str(value)


def _close_code(result: dict | None) -> str:
    slow = _get(result, "slow_reader")
    if slow is None:
        return "-"
    return str(slow["close_code"]) if slow["closed_by_server"] else "not closed"


def _max_rate(result: dict | None) -> str:
    if result is None:
        return "-"
    if "error" in result:
        return "error"
    text = _number(result["max_rate"])
    return f">={text} (loadgen-bound)" if result["max_rate_loadgen_bound"] else text


def summary_rows(scenarios: dict) -> list[tuple[str, str, str, str]]:
    """(what, product, reference, product/reference) for each headline figure."""
    rows: list[tuple[str, str, str, str]] = []

    def pair(name: str) -> tuple[dict | None, dict | None]:
        entry = scenarios.get(name) or {}
        return entry.get("product"), entry.get("reference")

    for name, title in (
        ("one-room", "1 room x 50 people, 1 sender: max msg/s"),
        ("many-rooms", "20 rooms x 10 people, all send: max msg/s"),
    ):
        product, reference = pair(name)
        if product is None and reference is None:
            continue
        rows.append(
            (
                title,
                _max_rate(product),
                _max_rate(reference),
                _ratio(_get(product, "max_rate"), _get(reference, "max_rate")),
            )
        )
        rows.append(
            (
                "  p99 latency at that rate, ms",
                _number(_get(product, "p99_ms_at_max"), digits=1),
                _number(_get(reference, "p99_ms_at_max"), digits=1),
                "",
            )
        )

    product, reference = pair("idle")
    if product or reference:
        count = _get(product, "connections") or _get(reference, "connections")
        rows.append(
            (
                f"{count:,} idle connections: kB of server memory each",
                _number(_get(product, "kb_per_connection"), digits=1),
                _number(_get(reference, "kb_per_connection"), digits=1),
                _ratio(_get(product, "kb_per_connection"), _get(reference, "kb_per_connection")),
            )
        )
        rows.append(
            (
                "  time to connect them all, s",
                _number(_get(product, "connect_seconds"), digits=2),
                _number(_get(reference, "connect_seconds"), digits=2),
                _ratio(_get(product, "connect_seconds"), _get(reference, "connect_seconds")),
            )
        )
        rows.append(
            (
                "  still open after settling",
                _number(_get(product, "still_open_after_settle")),
                _number(_get(reference, "still_open_after_settle")),
                "",
            )
        )

    product, reference = pair("burst")
    if product or reference:
        messages = _get(product, "messages") or _get(reference, "messages")
        people = _get(product, "people") or _get(reference, "people")
        rows.append(
            (
                f"burst of {messages:,} into {people} people: all in order, once",
                _number(_get(product, "passed")),
                _number(_get(reference, "passed")),
                "",
            )
        )
        seconds = (
            _get(product, "seconds_to_last_delivery"),
            _get(reference, "seconds_to_last_delivery"),
        )
        rows.append(
            (
                "  time to the last delivery, s",
                _number(seconds[0], digits=2),
                _number(seconds[1], digits=2),
                _ratio(*seconds),
            )
        )
        rows.append(
            (
                "  deliveries lost",
                _number(_get(product, "lost")),
                _number(_get(reference, "lost")),
                "",
            )
        )

    product, reference = pair("slow-reader")
    if product or reference:
        p99 = (
            _get(product, "others", "latency_ms", "p99"),
            _get(reference, "others", "latency_ms", "p99"),
        )
        rows.append(
            (
                "slow reader: everyone else's p99, ms",
                _number(p99[0], digits=1),
                _number(p99[1], digits=1),
                _ratio(*p99),
            )
        )
        rows.append(
            (
                "  everyone else lost",
                _number(_get(product, "others", "lost")),
                _number(_get(reference, "others", "lost")),
                "",
            )
        )
        rows.append(
            (
                "  slow socket closed by the server with code",
                _close_code(product),
                _close_code(reference),
                "",
            )
        )
        rows.append(
            (
                "  slow client ends with every message once",
                _number(_get(product, "slow_reader", "ends_with_every_message_once")),
                _number(_get(reference, "slow_reader", "ends_with_every_message_once")),
                "",
            )
        )

    product, reference = pair("flood")
    if product or reference:
        for label, key in (("without", "others_p99_ms_without"), ("with", "others_p99_ms_with")):
            p99 = (_get(product, key), _get(reference, key))
            rows.append(
                (
                    f"flood of 100 frames/s: the others' p99 {label} it, ms",
                    _number(p99[0], digits=1),
                    _number(p99[1], digits=1),
                    _ratio(*p99),
                )
            )
        rows.append(
            (
                "  the flooder's frames refused (rate_limited)",
                _number(_get(product, "with a flood", "flooder", "refused", "rate_limited")),
                _number(_get(reference, "with a flood", "flooder", "refused", "rate_limited")),
                "",
            )
        )
    return rows


def history_rows(history: dict) -> list[tuple[str, ...]]:
    rows = []
    names = {"page": "room page", "older_page": "older page", "catch_up": "catch-up (sync)"}
    for operation, entry in history["operations"].items():
        rows.append(
            (
                names.get(operation, operation),
                f"{entry['small']['median_ms']:.2f}",
                f"{entry['large']['median_ms']:.2f}",
                f"{entry['time_ratio']:.2f}",
                f"{entry['small']['bytes']:,}",
                f"{entry['large']['bytes']:,}",
                f"{entry['bytes_ratio']:.3f}",
            )
        )
    return rows


def format_table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = []
    for index, row in enumerate([header, *rows]):
        cells = [row[0].ljust(widths[0])] + [
            cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)
        ]
        lines.append("  ".join(cells).rstrip())
        if index == 0:
            lines.append("  ".join("-" * width for width in widths))
    return "\n".join(lines)


def render(results: dict) -> str:
    scenarios = results["scenarios"]
    parts = [
        f"Benchmark {results['date']}  ({results['command']})",
        f"server on core {results['machine']['server_core']}, load generator on core "
        f"{results['machine']['loadgen_core']}; product at {results['product_version']} "
        f"on {results.get('product_setup', 'SQLite, in-memory layer, 1 worker')}",
        "",
        format_table(("", "product", "reference", "product/reference"), summary_rows(scenarios)),
    ]
    history = _get(scenarios, "history", "product")
    if history and "error" not in history:
        rooms = list(history["rooms"].values())
        parts += [
            "",
            f"History, median of {history['runs']} runs: a room of {rooms[0]:,} messages "
            f"against one of {rooms[1]:,}",
            format_table(
                ("", "small ms", "large ms", "ratio", "small bytes", "large bytes", "ratio"),
                history_rows(history),
            ),
        ]
    for name, entry in scenarios.items():
        for kind, result in entry.items():
            if isinstance(result, dict) and "error" in result:
                parts += ["", f"{name} ({kind}) did not finish: {result['error']}"]
    profile = _get(scenarios, "one-room", "product", "profile")
    if profile and "top_own" in profile:
        parts += [
            "",
            f"Product profile at {profile['rate']:g} msg/s: {profile['samples']} samples, "
            f"{profile['worker_threads_percent']}% of them in worker threads (the rest in the "
            "event loop's thread; Runner.run's own time is uvloop's C code: socket I/O, "
            "callbacks)",
        ]
        for title, key in (("own time", "top_own"), ("total time", "top_total")):
            parts.append(f"  top functions by {title}:")
            parts += [f"    {row['percent']:5.1f}%  {row['function']}" for row in profile[key]]
    return "\n".join(parts)


def write_json(results: dict, path: Path) -> None:
    path.write_text(json.dumps(results, indent=1, default=str) + "\n")


def draw_latency_chart(scenarios: dict, path: Path) -> bool:
    """p99 latency against send rate, product and reference, one panel per climb."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [
        (name, title)
        for name, title in (
            ("one-room", "1 room x 50 people, 1 sender"),
            ("many-rooms", "20 rooms x 10 people, all sending"),
        )
        if name in scenarios
    ]
    if not panels:
        return False
    figure, axes = plt.subplots(1, len(panels), figsize=(6.5 * len(panels), 4.8), squeeze=False)
    for axis, (name, title) in zip(axes[0], panels, strict=True):
        for kind, colour in (("product", "tab:blue"), ("reference", "tab:orange")):
            steps = _get(scenarios, name, kind, "steps")
            if not steps:
                continue
            points = [
                (step["rate"], step["latency_ms"]["p99"], step)
                for step in steps
                if step["latency_ms"]["p99"] is not None
            ]
            axis.plot(
                [rate for rate, _, _ in points],
                [p99 for _, p99, _ in points],
                color=colour,
                label=kind,
            )
            for rate, p99, step in points:
                axis.plot(rate, p99, marker="o" if step["passed"] else "x", color=colour)
                if step["loadgen_bound"]:
                    axis.plot(
                        rate, p99, marker="s", markersize=13, color=colour, markerfacecolor="none"
                    )
        axis.axhline(P99_LIMIT_SECONDS * 1000, color="grey", linestyle="--", linewidth=1)
        axis.set_yscale("log")
        axis.set_xlabel("messages sent per second (all rooms)")
        axis.set_ylabel("p99 delivery latency, ms")
        axis.set_title(title)
        axis.grid(True, which="both", alpha=0.3)
        axis.legend(title="o pass, x fail, square: loadgen-bound", fontsize=8, title_fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return True
