"""What ``send_each`` does per message, apart from the network: build, translate, result.

    python3 benchmarks/message_costs.py     # microseconds per message, best of five passes

Each line is one step for 20,000 one-token messages with their own title, body and data, as
the ``fcmclient-each`` benchmark client makes them; ``exchange`` is the request body for the
message's token (a multicast pays only that, per target). Run it in any environment with
fcm-client importable (``benchmarks/.venv`` or the project's ``.venv``).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

from fcmclient import JSONMessage
from fcmclient._protocol import v1
from fcmclient._send.each import results_of
from fcmclient.outcomes import Outcome

N = 20_000
URL = "http://127.0.0.1:1/v1/projects/demo/messages:send"


def personal(token: str, index: int) -> dict[str, Any]:
    """One message's own content."""
    return {
        "message_title": f"Order {index}",
        "message_body": f"Hi {token[:6]}, your order {index} shipped",
        "data": {"order": str(index)},
    }


def best(step: Callable[[], object], passes: int = 5) -> float:
    """The fastest of ``passes`` runs of ``step``, in microseconds per message."""
    times = []
    for _ in range(passes):
        started = time.perf_counter()
        step()
        times.append((time.perf_counter() - started) / N * 1e6)
    return min(times)


def main() -> None:
    tokens = [f"token-{i:06d}" for i in range(N)]
    messages = [JSONMessage([t], **personal(t, i)) for i, t in enumerate(tokens)]
    now, rng, ok = time.time(), random.Random(1), Outcome.success("projects/demo/messages/1")
    translations = [v1.Translation(m, now) for m in messages]
    steps: dict[str, Callable[[], object]] = {
        "build a JSONMessage": lambda: [JSONMessage([t], **personal(t, i)) for i, t in enumerate(tokens)],
        "translate it (v1)": lambda: [v1.Translation(m, now) for m in messages],
        "exchange (its body)": lambda: [
            x.exchange(URL, t) for x, t in zip(translations, tokens, strict=True)
        ],
        "its Result": lambda: [results_of(m, [ok], 0, rng) for m in messages],
    }
    for name, step in steps.items():
        print(f"{name:<22} {best(step):6.1f} us")


if __name__ == "__main__":
    main()
