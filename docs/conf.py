"""Sphinx configuration for the fcm-client documentation."""

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from fcmclient import __version__  # noqa: E402

project = "fcm-client"
author = "the fcm-client authors"
copyright = "2026, the fcm-client authors"  # noqa: A001
release = __version__
version = __version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.viewcode",
    "sphinx.ext.doctest",
]
autodoc_member_order = "bysource"
autodoc_typehints = "description"
nitpicky = False

html_theme = "furo"
html_title = f"fcm-client {__version__}"
exclude_patterns = ["_build"]
