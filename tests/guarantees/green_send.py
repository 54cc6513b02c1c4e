"""Send from a process monkey-patched by gevent or eventlet (run as a script).

    python tests/guarantees/green_send.py LIBRARY SCENARIO SERVICE_ACCOUNT_FILE V1_URL NAME SIZE DEAD_EVERY

Patching must come before anything imports socket or threading, hence a process of its own
and the imports inside :func:`main`. Prints one JSON line: what is patched, and the reports
of the scenario, each the verdicts of a send to an ``audience`` named after NAME:

``send``
    one multicast to ``NAME``.
``subscribe``
    ``NAME``'s audience subscribed to the topic ``NAME``.
``fork-after``
    a multicast, then a fork; the child (``NAME-child``) and the parent (``NAME-parent``)
    send at once, as in issue 17's experiment.
``fork-during``
    a multicast (so that no worker thread is starting at the fork), then a green thread
    sends to ``NAME`` and the process forks while it is under way. Green threads survive a
    fork, so the child holds a copy of that send: the reports are the parent's send and the
    child's copy.
"""

from __future__ import annotations

import os
import sys
from typing import Any

WAIT = 30.0  # bound on every wait of this script
#: The repository, where ``tests.forking`` is found (Python puts only this script's folder
#: on the path).
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def patch(library: str) -> dict[str, bool]:
    """Monkey-patch the standard library with ``library``; which modules are patched now."""
    if library == "gevent":
        from gevent import monkey

        monkey.patch_all()
        return {name: monkey.is_module_patched(name) for name in ("socket", "threading")}
    if library == "eventlet":
        import eventlet

        eventlet.monkey_patch()
        return {name: eventlet.patcher.is_monkey_patched(name) for name in ("socket", "thread")}
    raise SystemExit(f"unknown library {library!r}")


def in_child(action: Any) -> Any:
    """Fork; the child runs ``action`` and writes its JSON report to a pipe, then exits.
    Returns a function that reads the report (in the parent)."""
    import json
    import os

    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.write(write, json.dumps(action()).encode())
        finally:
            os._exit(0)
    os.close(write)

    def report() -> Any:
        data = b""
        while chunk := os.read(read, 65536):
            data += chunk
        os.waitpid(pid, 0)
        return json.loads(data)

    return report


def fork_during(client: Any, tokens: list[str]) -> dict[str, Any]:
    """Fork while a green thread sends ``tokens``: the parent's send and the child's copy."""
    import logging
    import threading

    from tests.forking import timed_send

    under_way = threading.Event()
    sent = 0

    class Watch(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            nonlocal sent
            if record.getMessage().startswith("v1 send to "):
                sent += 1
                if sent == 20:
                    under_way.set()

    logger = logging.getLogger("fcmclient")
    logger.addHandler(Watch())
    logger.setLevel(logging.DEBUG)
    reports: list[Any] = []
    done = threading.Event()  # a fork marks the sender stopped in the child: join() would not wait

    def send() -> None:
        reports.append(timed_send(client, tokens))
        done.set()

    threading.Thread(target=send).start()
    assert under_way.wait(WAIT), "the send never got under way"

    def copy() -> Any:
        done.wait(WAIT)
        return reports[0] if reports else None

    child = in_child(copy)
    done.wait(WAIT)
    return {"parent": reports[0], "child": child()}


def main(argv: list[str]) -> None:
    patched = patch(argv[1])
    import json

    sys.path.insert(0, ROOT)
    from fcmclient import FCM
    from tests.forking import audience, timed_send, timed_subscribe

    scenario, key_file, url, name, size, dead_every = argv[2:8]

    def tokens(who: str) -> list[str]:
        return audience(who, int(size), int(dead_every))[0]

    reports: dict[str, Any] = {}
    with FCM.from_service_account(key_file, url=url, timeout=2.0, send_timeout=10.0) as client:
        if scenario == "send":
            reports[name] = timed_send(client, tokens(name))
        elif scenario == "subscribe":
            reports[name] = timed_subscribe(client, tokens(name), name)
        elif scenario == "fork-after":
            timed_send(client, tokens(f"{name}-warm"))
            child = in_child(lambda: timed_send(client, tokens(f"{name}-child")))
            reports[f"{name}-parent"] = timed_send(client, tokens(f"{name}-parent"))
            reports[f"{name}-child"] = child()
        elif scenario == "fork-during":
            timed_send(client, tokens(f"{name}-warm"))  # the pool's threads all started before the fork
            reports.update(fork_during(client, tokens(name)))
        else:
            raise SystemExit(f"unknown scenario {scenario!r}")
    print(json.dumps({"patched": patched, "reports": reports}))


if __name__ == "__main__":
    main(sys.argv)
