"""``python -m fcmclient``: the same as the ``fcmclient`` command."""

from .cli import main

raise SystemExit(main())
