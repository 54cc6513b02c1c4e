"""How many requests per second the FCM emulator answers (the figure docs/testing.rst states).

Runs the emulator in a child process (so client and server do not share one GIL) and
drives it with ``--threads`` raw ``http.client`` keep-alive connections, the cheapest
client Python has, so the figure is the emulator's ceiling, not the client's:

    .venv/bin/python benchmarks/emulator_throughput.py --requests 20000 --threads 8
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import statistics
import threading
import time
from multiprocessing.connection import Connection


def serve(pipe: Connection) -> None:
    from fcmclient.testing import FCMEmulator

    with FCMEmulator(history_limit=1000) as emu:
        pipe.send((emu.port, emu.api_key, emu.service_account_info("bench")))
        pipe.recv()  # until the parent says stop


def access_token(info: dict[str, str]) -> str:
    """A bearer token from the emulator's token endpoint, through google-auth's JWT flow."""
    from google.auth.transport.requests import Request
    from google.oauth2 import service_account

    from fcmclient._protocol.v1 import SCOPE

    credentials = service_account.Credentials.from_service_account_info(info, scopes=[SCOPE])
    credentials.refresh(Request())
    return str(credentials.token)


def request_for(protocol: str, api_key: str, bearer: str) -> tuple[str, bytes, dict[str, str]]:
    if protocol == "legacy":
        body = {"registration_ids": ["bench-token"], "data": {"k": "v"}}
        return "/fcm/send", json.dumps(body).encode(), {"Authorization": f"key={api_key}"}
    body = {"message": {"token": "bench-token", "data": {"k": "v"}}}
    path = "/v1/projects/bench/messages:send"
    return path, json.dumps(body).encode(), {"Authorization": f"Bearer {bearer}"}


def drive(port: int, request: tuple[str, bytes, dict[str, str]], count: int, threads: int) -> float:
    path, body, auth = request
    headers = {**auth, "Content-Type": "application/json"}
    per_thread = count // threads
    failures: list[str] = []

    def loop() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        for _ in range(per_thread):
            conn.request("POST", path, body, headers)
            response = conn.getresponse()
            response.read()
            if response.status != 200:
                failures.append(str(response.status))
        conn.close()

    workers = [threading.Thread(target=loop) for _ in range(threads)]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - started
    if failures:
        raise SystemExit(f"{len(failures)} request(s) failed: {failures[:3]}")
    return per_thread * threads / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    parent, child = multiprocessing.Pipe()
    server = multiprocessing.Process(target=serve, args=(child,), daemon=True)
    server.start()
    port, api_key, info = parent.recv()
    try:
        bearer = access_token(info)
        for protocol in ("legacy", "v1"):
            request = request_for(protocol, api_key, bearer)
            drive(port, request, min(args.requests, 2000), args.threads)  # warm up
            rates = [drive(port, request, args.requests, args.threads) for _ in range(args.runs)]
            print(
                f"emulator, {protocol} send, {args.threads} keep-alive connections: "
                f"median {statistics.median(rates):,.0f} requests/s over {args.runs} runs "
                f"({', '.join(f'{rate:,.0f}' for rate in rates)})"
            )
    finally:
        parent.send("stop")
        server.join(10)


if __name__ == "__main__":
    main()
