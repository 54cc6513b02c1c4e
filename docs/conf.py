"""Sphinx configuration for the fcm-client documentation."""

import contextlib
import inspect
import pathlib
import sys
from collections.abc import Mapping

from sphinx.errors import PycodeError
from sphinx.pycode import ModuleAnalyzer

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


def _constant_docs(app, what, name, obj, options, lines):
    """Document a constant by the ``#:`` comment where it is assigned.

    A constant a package re-exports (``fcmclient.FCM_URL``, ``fcmclient.celery.TRANSPORT_ERROR``)
    has no comment in the package itself, and autodoc would show the docstring of its type
    (``str``, ``int``) instead. Look for the comment in the module that assigns it; if there is
    none, show nothing but what the page says.
    """
    if what != "data" or not isinstance(obj, (str, int, float, Mapping)):
        return
    type_doc = inspect.getdoc(type(obj)) or ""
    if any(lines) and lines[0].strip() != type_doc.split("\n")[0].strip():
        return  # a comment of its own was found
    attribute = name.rsplit(".", 1)[-1]
    for module_name in sorted(sys.modules):
        module = sys.modules[module_name]
        if module_name.split(".")[0] != "fcmclient" or getattr(module, attribute, None) is not obj:
            continue
        with contextlib.suppress(PycodeError):
            comment = ModuleAnalyzer.for_module(module_name).find_attr_docs().get(("", attribute))
            if comment:
                lines[:] = list(comment)
                return
    lines[:] = []


def setup(app):
    app.connect("autodoc-process-docstring", _constant_docs)
