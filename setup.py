"""Packaging for fcm-client (metadata lives here; pyproject.toml names the build backend)."""

import pathlib
import re

from setuptools import find_packages, setup

HERE = pathlib.Path(__file__).parent
VERSION = re.search(r'__version__ = "([^"]+)"', (HERE / "fcmclient" / "_version.py").read_text())
assert VERSION is not None

# gevent and eventlet: the green-thread tests (tests/test_green.py) monkey-patch a process with each.
TESTS = ["pytest>=7", "responses>=0.23", "hypothesis>=6", "gevent>=24", "eventlet>=0.36"]
# Exact versions: a newer ruff may format or lint differently and turn CI red on its own.
CHECKS = ["ruff==0.17.6", "mypy==2.4.1", "types-requests"]
CELERY = ["celery[redis]>=5.3"]
DOCS = ["sphinx>=7", "furo"]

setup(
    name="fcm-client",
    version=VERSION.group(1),
    description="Send Firebase Cloud Messaging pushes: HTTP v1 with a service account, "
    "or the legacy API, behind one small API",
    long_description=(HERE / "README.rst").read_text(encoding="utf-8"),
    long_description_content_type="text/x-rst",
    license="Apache-2.0",
    packages=find_packages(include=["fcmclient", "fcmclient.*"]),
    package_data={"fcmclient": ["py.typed"]},
    python_requires=">=3.10",
    install_requires=["requests>=2.28", "google-auth>=2.20"],
    extras_require={
        "test": TESTS,
        "dev": TESTS + CHECKS + DOCS + CELERY,
        "celery": CELERY,
        "docs": DOCS,
    },
    entry_points={
        "console_scripts": ["fcmclient = fcmclient.cli:main"],
        "pytest11": ["fcmclient = fcmclient.testing.pytest_plugin"],
    },
    classifiers=[
        "Development Status :: 4 - Beta",
        "Intended Audience :: Developers",
        "License :: OSI Approved :: Apache Software License",
        "Programming Language :: Python :: 3",
        "Programming Language :: Python :: 3 :: Only",
        "Programming Language :: Python :: 3.10",
        "Programming Language :: Python :: 3.11",
        "Programming Language :: Python :: 3.12",
        "Programming Language :: Python :: 3.13",
        "Programming Language :: Python :: 3.14",
        "Topic :: Communications",
        "Typing :: Typed",
    ],
)
