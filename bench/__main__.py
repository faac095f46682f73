"""`make bench`: run every benchmark module under bench/ (or the ones named: `python -m bench overview`).

Each module exposes ``main() -> None`` and prints its own table. Benchmarks use the
console's database (the embedded server by default) in a scratch database of their own.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time
from pathlib import Path


def main(argv: list[str]) -> int:
    here = Path(__file__).parent
    names = argv or sorted(
        info.name
        for info in pkgutil.iter_modules([str(here)])
        if not info.name.startswith("_") and info.name != "common"
    )
    for name in names:
        print(f"\n== bench/{name}", flush=True)
        started = time.monotonic()
        importlib.import_module(f"bench.{name}").main()
        print(f"   ({time.monotonic() - started:.1f}s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
