"""What the total deadline of requests' path costs: each request on a helper thread of its own.

    python3 benchmarks/bounded_cost.py [rounds]    # with the checkout's fcmclient importable

Prints figures only (docs/architecture.rst quotes them): the wall and CPU time of
``run_within`` around nothing, then of one legacy send's request to the built-in emulator on
a kept-alive connection, read in the calling thread (requests alone, per-read timeouts) and
through ``post`` (the same request on a helper thread, waited for at most its deadline),
alternating, the median of ``rounds`` (default 2,000) each.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fcmclient._http.bounded import run_within
from fcmclient._http.session import make_session, post, read_capped
from fcmclient.testing import FCMEmulator

ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
BODY = json.dumps({"registration_ids": ["a"], "data": {"k": "v"}}).encode()
HEADERS = {"Authorization": "key=AAAA-bench", "Content-Type": "application/json"}


def timed(action: Callable[[], object]) -> tuple[float, float]:
    """Wall and CPU microseconds of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    action()
    return (time.perf_counter() - wall) * 1e6, (time.process_time() - cpu) * 1e6


def main() -> None:
    with FCMEmulator() as emulator, make_session(4) as session:
        url = emulator.legacy_url

        def direct() -> bytes:
            response = session.post(url, data=BODY, headers=HEADERS, timeout=10.0, stream=True)
            try:
                return read_capped(response.iter_content(65536), url, response.status_code)[0]
            finally:
                response.close()

        def bounded() -> bytes:
            return post(session, url, BODY, HEADERS, 10.0, {}).body

        assert direct() == bounded()  # warm, and the same answer both ways
        figures: dict[str, list[tuple[float, float]]] = {"nothing": [], "direct": [], "bounded": []}
        for _ in range(ROUNDS):
            figures["nothing"].append(timed(lambda: run_within(lambda: None, 10.0)))
            figures["direct"].append(timed(direct))
            figures["bounded"].append(timed(bounded))
    for name, label in (
        ("nothing", "run_within(nothing)"),
        ("direct", "request, requests alone"),
        ("bounded", "request, on a helper thread"),
    ):
        wall = statistics.median(w for w, _ in figures[name])
        cpu = statistics.median(c for _, c in figures[name])
        print(f"{label:30s} wall {wall:8.1f} us   cpu {cpu:8.1f} us   (median of {ROUNDS})")
    direct_wall = statistics.median(w for w, _ in figures["direct"])
    bounded_wall = statistics.median(w for w, _ in figures["bounded"])
    print(f"helper thread / requests alone, wall: {bounded_wall / direct_wall:.2f}x")


if __name__ == "__main__":
    main()
