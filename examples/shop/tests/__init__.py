"""Test package: puts ``src`` on ``sys.path`` so ``import shop`` works uninstalled.

Run from the project root:  python -m unittest discover -s tests -t .
"""

import sys
from pathlib import Path

_SRC = str(Path(__file__).resolve().parents[1] / "src")
if _SRC not in sys.path:
    sys.path.insert(0, _SRC)
