"""Print the lowest version of every dependency setup.py declares with ``>=``, one ``==`` pin a line.

scripts/test.sh feeds it to pip as a constraints file, so that the suite also runs on the
floor of every declared range (the other end, the newest releases, is the main virtualenv)::

    python3 scripts/lowest-requirements.py > lowest.txt
    pip install -c lowest.txt -e '.[test,celery,docs]'

It reads setup.py without running it: every top-level list of requirement strings.
"""

from __future__ import annotations

import ast
import pathlib
import re
import sys

REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?\s*>=\s*([0-9][^,;\s]*)")


def lowest(setup_py: pathlib.Path) -> list[str]:
    """``name==version`` for every ``name>=version`` in the module-level lists of ``setup_py``."""
    pins: dict[str, str] = {}
    for node in ast.parse(setup_py.read_text(encoding="utf-8")).body:
        if not isinstance(node, ast.Assign) or not isinstance(node.value, ast.List):
            continue
        for item in node.value.elts:
            if isinstance(item, ast.Constant) and isinstance(item.value, str):
                match = REQUIREMENT.match(item.value)
                if match:
                    name = match.group(1).lower().replace("_", "-")
                    pins[name] = match.group(2)
    return [f"{name}=={version}" for name, version in sorted(pins.items())]


if __name__ == "__main__":
    root = pathlib.Path(__file__).resolve().parent.parent
    sys.stdout.write("".join(line + "\n" for line in lowest(root / "setup.py")))
