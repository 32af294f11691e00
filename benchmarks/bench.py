#!/usr/bin/env python3
"""Runnable benchmark suite: see dgkernels.bench (python -m dgkernels.bench --help)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "python"))  # a source checkout works too

from dgkernels.bench import main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(main())
