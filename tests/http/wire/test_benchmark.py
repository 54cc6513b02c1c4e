"""benchmarks/wire_codecs.py runs and prints a figure for each codec (no timing is judged)."""

from __future__ import annotations

import pathlib
import re
import subprocess
import sys

SCRIPT = pathlib.Path(__file__).resolve().parents[3] / "benchmarks" / "wire_codecs.py"


def test_quick_run_prints_one_figure_per_codec() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick"], capture_output=True, text=True, timeout=120, check=True
    )
    figures = re.findall(r"^(h[12] \w+)\s+([0-9.]+) us", done.stdout, re.MULTILINE)
    assert [name for name, _ in figures] == ["h1 ours", "h1 h11", "h2 ours", "h2 h2"]
    assert all(float(micros) > 0 for _, micros in figures)
