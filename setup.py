"""Packaging for fcm-client (metadata lives here; pyproject.toml names the build backend)."""

import pathlib
import re

from setuptools import find_packages, setup

HERE = pathlib.Path(__file__).parent
VERSION = re.search(r'__version__ = "([^"]+)"', (HERE / "fcmclient" / "_version.py").read_text())
assert VERSION is not None

# Every range below is tested at both ends: scripts/test.sh runs the suite in a second
# virtualenv holding the lowest version of each (scripts/lowest-requirements.py pins them).
# requests 2.32.2 is the first to key pooled connections by their TLS settings: before it, a
# connection opened with verify=False served later verified requests (CVE-2024-35195).
# urllib3 is imported directly; 1.26.5 is the first 1.26 whose vendored six imports cleanly.
RUNTIME = ["requests>=2.32.2", "urllib3>=1.26.5", "google-auth>=2.20"]
# The emulator (fcmclient.testing, `fcmclient demo`) makes and checks RSA keys; google-auth
# brings cryptography only in its recent releases.
EMULATOR = ["cryptography>=41"]
# The HTTP test doubles users put around fcm-client are tested against it.
DOUBLES = ["responses>=0.23", "requests-mock>=1.11", "vcrpy>=5.0", "pytest-recording>=0.13", "betamax>=0.9"]
# gevent and eventlet: tests/guarantees/test_green.py monkey-patches a process with each, forks included.
GREEN = ["gevent>=24.2.1", "eventlet>=0.36.1"]
# The wire codecs (fcmclient/_http/wire) are cross-checked against python-hyper's implementations.
WIRE_CHECKS = ["h2>=4.1", "hpack>=4.0", "h11>=0.14"]
TESTS = ["pytest>=7.2", "hypothesis>=6.0", *DOUBLES, *EMULATOR, *GREEN, *WIRE_CHECKS]
# Exact versions: a newer ruff may format or lint differently and turn CI red on its own.
CHECKS = ["ruff==0.17.6", "mypy==2.4.1", "types-requests"]
CELERY = ["celery[redis]>=5.3"]
# The API reference documents fcmclient.celery, so building the docs imports Celery.
DOCS = ["sphinx>=7.0", "furo>=2023.5.20", "celery>=5.3"]

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
    install_requires=RUNTIME,
    extras_require={
        "test": TESTS,
        "dev": TESTS + CHECKS + DOCS + CELERY,
        "celery": CELERY,
        "docs": DOCS,
        "emulator": EMULATOR,
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
