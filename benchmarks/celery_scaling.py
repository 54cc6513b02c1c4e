"""How the Celery fan-out's throughput grows from 1 to 2 worker processes.

Starts Redis and the emulator (20 ms per answer, its own process), then for each worker
count a prefork Celery worker with that concurrency, and sends one ``fan_out`` group of N
tokens through it, timing from ``apply_async`` until every chunk reported. Prints tokens per
second for each count, the ratio, and what that rate projects to for 10 million tokens::

    python3 benchmarks/celery_scaling.py                    # 100,000 tokens, 1 and 2 workers
    python3 benchmarks/celery_scaling.py --tokens 20000 --workers 1,2,4

Needs ``redis-server`` on PATH and fcm-client's ``celery`` extra.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def process(command: list[str], env: dict[str, str] | None = None) -> Iterator[subprocess.Popen[str]]:
    child = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT
    )
    try:
        yield child
    finally:
        child.terminate()
        try:
            child.wait(10)
        except subprocess.TimeoutExpired:
            child.kill()


def emulator_lines(child: subprocess.Popen[str]) -> dict[str, str]:
    lines: dict[str, str] = {}
    assert child.stdout is not None
    for line in child.stdout:
        key, _, value = line.strip().partition("=")
        lines[key] = value
        if key == "READY":
            return lines
    raise SystemExit("the emulator did not start")


def run(args: argparse.Namespace) -> None:
    redis_port = free_port()
    broker = f"redis://127.0.0.1:{redis_port}/0"
    with (
        process(["redis-server", "--port", str(redis_port), "--save", "", "--appendonly", "no"]),
        process(
            [sys.executable, "-m", "fcmclient.testing", "--latency", "0.02", "--history-limit", "1000"]
        ) as emu,
    ):
        found = emulator_lines(emu)
        env = {
            **os.environ,
            "SCALING_BROKER": broker,
            "SCALING_KEY_FILE": found["SERVICE_ACCOUNT_FILE"],
            "SCALING_URL": found["V1_URL"],
            "PYTHONPATH": str(HERE) + os.pathsep + os.environ.get("PYTHONPATH", ""),
        }
        os.environ.update(env)
        sys.path.insert(0, str(HERE))
        from celery_scaling_app import app, send  # the same broker settings as the workers

        from fcmclient.celery import fan_out

        tokens = [f"scale{index:09d}:" + "A" * 148 for index in range(args.tokens)]
        rates: dict[int, float] = {}
        for workers in args.worker_counts:
            command = [
                sys.executable, "-m", "celery", "-A", "celery_scaling_app", "worker",
                "--pool", "prefork", "--concurrency", str(workers), "--loglevel", "WARNING",
                "--without-gossip", "--without-mingle", "--without-heartbeat",
                "-n", f"scaling{workers}@%h",
            ]  # fmt: skip
            with process(command, env):
                deadline = time.monotonic() + 60
                while not app.control.ping(timeout=1.0):
                    if time.monotonic() > deadline:
                        raise SystemExit("the worker did not start")
                fan_out(send, tokens[:2000], {"warm": "up"}, chunk_size=args.chunk_size).apply_async().get(
                    timeout=120
                )
                started = time.perf_counter()
                group = fan_out(send, tokens, {"k": "v"}, chunk_size=args.chunk_size).apply_async()
                reports = group.get(timeout=args.tokens / 100 + 120)
                elapsed = time.perf_counter() - started
                delivered = sum(report.get("success", 0) for report in reports)
                rates[workers] = args.tokens / elapsed
                print(
                    f"{workers} worker process(es): {args.tokens:,} tokens in {elapsed:.1f} s = "
                    f"{rates[workers]:,.0f} tokens/s ({delivered:,} delivered)",
                    flush=True,
                )
        first = args.worker_counts[0]
        for workers, rate in rates.items():
            ten_million = 10_000_000 / rate
            print(
                f"{workers} worker(s): {rate / rates[first]:.2f}x the rate of {first}; "
                f"10,000,000 tokens would take {ten_million / 60:.1f} min at this rate"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=100_000)
    parser.add_argument("--workers", default="1,2", help="comma-separated worker process counts")
    parser.add_argument("--chunk-size", type=int, default=1000)
    args = parser.parse_args()
    args.worker_counts = [int(count) for count in args.workers.split(",")]
    with tempfile.TemporaryDirectory():
        run(args)


if __name__ == "__main__":
    main()
