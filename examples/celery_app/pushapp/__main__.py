"""Command line: ``python -m pushapp add TOKEN...`` and ``python -m pushapp notify TEXT``."""

from __future__ import annotations

import argparse
from contextlib import closing

from . import devices, tasks


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m pushapp")
    commands = parser.add_subparsers(dest="command", required=True)
    add = commands.add_parser("add", help="store device tokens")
    add.add_argument("tokens", nargs="+")
    notify = commands.add_parser("notify", help="queue a push to every device")
    notify.add_argument("text")
    args = parser.parse_args()

    devices.create(tasks.DB)
    if args.command == "add":
        with closing(devices.connect(tasks.DB)) as db:
            devices.add(db, args.tokens)
    else:
        group = tasks.notify_all({"text": args.text}, message_title=args.text)
        print(f"queued {len(group.results)} send task(s)")


if __name__ == "__main__":
    main()
