"""Which CPU kernels run: 'avx2' when the CPU has AVX2+FMA+F16C, else 'scalar'.

DGKERNELS_ISA=scalar|avx2 picks one at import; `set_isa` switches in-process (tests use it to run
every check on every path). Both give identical bytes; only speed differs.
"""
from __future__ import annotations

import contextlib
import os

from . import _core

_NAMES = ("scalar", "avx2")


def available_isas() -> list[str]:
    """The ISAs this CPU can run, slowest first."""
    return ["scalar", "avx2"] if _core.cpu_has_avx2() else ["scalar"]


def isa() -> str:
    """The active ISA."""
    return _NAMES[_core.active_isa()]


def set_isa(name: str) -> None:
    """Make `name` ('scalar' or 'avx2') the active ISA for the whole process."""
    if name not in _NAMES:
        raise ValueError(f"unknown ISA {name!r}; choose one of {', '.join(_NAMES)}")
    if name not in available_isas():
        raise ValueError(f"this CPU cannot run the {name!r} kernels (available: {', '.join(available_isas())})")
    _core.set_active_isa(_NAMES.index(name))


@contextlib.contextmanager
def using_isa(name: str):
    """Temporarily switch the active ISA."""
    before = isa()
    set_isa(name)
    try:
        yield
    finally:
        set_isa(before)


def _apply_env() -> None:
    want = os.environ.get("DGKERNELS_ISA")
    if want:
        if want not in _NAMES:
            raise ImportError(f"DGKERNELS_ISA={want!r} is not one of {', '.join(_NAMES)}")
        set_isa(want)
