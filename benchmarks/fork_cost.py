"""What fork safety costs: the process checks on every send and request, and a child's first send.

    python3 benchmarks/fork_cost.py        # with the checkout's fcmclient importable

Prints figures only (docs/guarantees.rst, "Processes and threads", quotes them). The first
three are per call, best of 5 timeit runs; the last ones are medians over forked children,
each sending 100 tokens to the emulator once, against the parent's own warm sends.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
import timeit
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fcmclient import FCM, JSONMessage
from fcmclient._http.process import ProcessGuard, forks
from fcmclient._send.resources import Resources, per_process
from fcmclient.testing import FCMEmulator

CHILDREN = 20
TOKENS = [f"t{i}" for i in range(100)]


def per_call(statement: str, setup: str, **names: object) -> float:
    """Nanoseconds per call of ``statement``."""
    timer = timeit.Timer(statement, setup, globals=names)
    loops, _ = timer.autorange()
    return min(timer.repeat(5, loops)) / loops * 1e9


def timed_send(client: FCM) -> float:
    started = time.perf_counter()
    client.send(JSONMessage(TOKENS))
    return time.perf_counter() - started


def child_first_sends(client: FCM) -> list[float]:
    """How long each forked child's first send takes (new session, connections and threads)."""
    times = []
    for _ in range(CHILDREN):
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                os.write(write, repr(timed_send(client)).encode())
            finally:
                os._exit(0)
        os.close(write)
        times.append(float(os.read(read, 100)))
        os.close(read)
        os.waitpid(pid, 0)
    return times


def main() -> None:
    print(f"os.getpid():                     {per_call('getpid()', '', getpid=os.getpid):6.0f} ns")
    print(f"ProcessGuard.owned() (per send): {per_call('guard.owned()', '', guard=ProcessGuard()):6.0f} ns")
    print(f"forks() (a few per request):     {per_call('forks()', '', forks=forks):6.0f} ns")
    made = per_call("Resources(64, None, 20.0, None)", "", Resources=Resources) / 1e3
    print(f"a child's new resources:         {made:6.0f} µs (session and pools; threads start on use)")
    with FCMEmulator() as emu:
        client = FCM.from_service_account(emu.service_account_info("demo"), url=emu.v1_url("demo"))
        with client:
            per_send = per_call("local.get()", "", local=per_process(64, None, 20.0))
            print(f"FCM's per-process lookup:        {per_send:6.0f} ns per send")
            warm = [timed_send(client) for _ in range(CHILDREN)]
            first = child_first_sends(client)
    parent, child = statistics.median(warm) * 1e3, statistics.median(first) * 1e3
    print(
        f"send of {len(TOKENS)} tokens (median of {CHILDREN}): parent, warm {parent:.1f} ms; "
        f"a forked child's first {child:.1f} ms"
    )


if __name__ == "__main__":
    main()
