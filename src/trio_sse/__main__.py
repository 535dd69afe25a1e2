"""``python -m trio_sse``: the same as the ``trio-sse`` command."""

from __future__ import annotations

import sys

from ._cli import main

if __name__ == "__main__":
    sys.exit(main())
