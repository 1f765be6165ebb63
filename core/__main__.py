"""``python -m optbridge``: the ``optbridge`` command line (:mod:`optbridge.cli`)."""
from __future__ import annotations

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
