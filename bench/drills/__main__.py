"""`make drills`: run every failure drill (or the ones named: `python -m bench.drills redis_outage`)."""

from __future__ import annotations

import sys
from pathlib import Path

from bench.__main__ import main, modules

if __name__ == "__main__":
    names = [f"drills.{name}" for name in sys.argv[1:]] or modules(Path(__file__).parent, "drills.")
    sys.exit(main(names))
