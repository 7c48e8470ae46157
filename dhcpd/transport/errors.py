"""How the transport fails: kept out of the modules setup.py compiles (mypyc cannot
compile a subclass of OSError)."""

from __future__ import annotations


class TransportError(OSError):
    pass
