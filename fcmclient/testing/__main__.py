"""``python -m fcmclient.testing``: run the FCM emulator in the foreground."""

from __future__ import annotations

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
