"""How often an interruption leaves a logging handler locked, per fan-out path.

    FCMCLIENT_ENGINE=off python3 benchmarks/interrupt_logging.py 600   # requests' path
    python3 benchmarks/interrupt_logging.py 600                        # the engine
    python3 benchmarks/interrupt_logging.py 600 --postpone             # as the tests interrupt

Subscribes 200 tokens to a topic on the built-in emulator, again and again, with fcm-client's
logger at DEBUG through a handler, and a timer signal raising in the main thread a few
milliseconds into each call (as a Celery soft time limit does). After each call another
thread tries the handler's lock: the first round that leaves it held is printed. Before
Python 3.13, ``logging.Handler.handle`` takes the lock outside the ``try`` that releases it
(docs/guarantees.rst). ``--postpone`` delays the signal while the main thread is inside
``logging`` or holds a lock in ``threading``'s own Python code (``Condition.__enter__``,
``Thread.start``), as tests/guarantees/test_interruptions.py does.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time
import types

from fcmclient import FCM
from fcmclient.testing import FCMEmulator


class TimeLimitError(Exception):
    """Raised by the timer, in the main thread."""


class Handler(logging.Handler):
    """Formats each record and takes a moment over it, as a real handler writing out does."""

    def emit(self, record: logging.LogRecord) -> None:
        record.getMessage()
        time.sleep(0.0002)


def fragile(frame: types.FrameType | None) -> bool:
    """Inside ``logging``, or where ``threading`` holds a lock outside its ``try``/``with``."""
    while frame is not None:
        code = frame.f_code
        if code.co_filename == logging.__file__:
            return True
        if code.co_filename == threading.__file__ and code.co_name in _THREADING:
            return True
        frame = frame.f_back
    return False


_THREADING = {"start", "_bootstrap_inner", "__enter__", "__exit__"}


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 600
    postpone = "--postpone" in sys.argv
    handler = Handler(logging.DEBUG)
    logger = logging.getLogger("fcmclient")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)

    armed = [False]  # a signal already on its way when a round ends must not raise

    def interrupt(signum: int, frame: types.FrameType | None) -> None:
        if not armed[0]:
            return
        if postpone and fragile(frame):
            signal.setitimer(signal.ITIMER_REAL, 0.001)
            return
        raise TimeLimitError

    def locked() -> bool:
        got: list[bool] = []

        def probe() -> None:
            got.append(handler.lock.acquire(timeout=0.5))
            if got[0]:
                handler.lock.release()

        thread = threading.Thread(target=probe)
        thread.start()
        thread.join()
        return not got[0]

    signal.signal(signal.SIGALRM, interrupt)
    tokens = [f"t{n:03d}" for n in range(200)]
    with FCMEmulator() as emu:
        fcm = FCM.from_service_account(
            emu.service_account_info("demo"), url=emu.v1_url("demo"), max_workers=16
        )
        fcm.subscribe_to_topic("warm-up", "news")
        for n in range(rounds):
            armed[0] = True
            signal.setitimer(signal.ITIMER_REAL, 0.005 + (n % 17) * 0.001)
            try:
                fcm.subscribe_to_topic(tokens, "news")
            except TimeLimitError:
                pass
            finally:
                armed[0] = False
                signal.setitimer(signal.ITIMER_REAL, 0)
            if locked():
                print(f"round {n + 1}: the handler is left locked (every other thread that logs now waits)")
                return
        print(f"{rounds} rounds: the handler was never left locked")


if __name__ == "__main__":
    main()
