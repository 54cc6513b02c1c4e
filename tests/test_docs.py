"""The docs stay true to the code: every CLI option is documented, every page is in the toctree."""

from __future__ import annotations

import pathlib
import re

from fcmclient.cli import _parser

DOCS = pathlib.Path(__file__).resolve().parent.parent / "docs"


def test_every_send_option_is_in_the_cli_reference() -> None:
    send = _parser()._subparsers._group_actions[0].choices["send"]  # type: ignore[union-attr]
    documented = (DOCS / "cli.rst").read_text(encoding="utf-8")
    options = [
        flag
        for action in send._actions
        for flag in action.option_strings
        if flag.startswith("--") and flag != "--help"
    ]
    assert len(options) > 15
    missing = [flag for flag in options if f"``{flag}" not in documented]
    assert missing == []


def test_every_page_is_in_the_toctree() -> None:
    index = (DOCS / "index.rst").read_text(encoding="utf-8")
    listed = set(re.findall(r"^   (\w+)$", index, flags=re.MULTILINE))
    pages = {path.stem for path in DOCS.glob("*.rst")} - {"index"}
    assert pages <= listed
