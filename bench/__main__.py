"""`make bench`: run every benchmark module under bench/ and every failure drill under bench/drills/
(or the ones named: `python -m bench overview drills.redis_outage`).

Each module exposes ``main()`` and prints its own table; a drill's ``main()`` prints one
PASS/FAIL line with its figures and returns whether it passed. Benchmarks use the console's
database (the embedded server by default) in a scratch database of their own; drills start
throwaway servers of their own (bench/drills/_harness.py).
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time
from pathlib import Path


def modules(folder: Path, prefix: str = "") -> list[str]:
    return sorted(
        prefix + info.name
        for info in pkgutil.iter_modules([str(folder)])
        if not info.name.startswith("_") and info.name != "common" and not info.ispkg
    )


def main(argv: list[str]) -> int:
    here = Path(__file__).parent
    names = argv or [*modules(here), *modules(here / "drills", "drills.")]
    failed = []
    for name in names:
        print(f"\n== bench/{name.replace('.', '/')}", flush=True)
        started = time.monotonic()
        if importlib.import_module(f"bench.{name}").main() is False:
            failed.append(name)
        print(f"   ({time.monotonic() - started:.1f}s)", flush=True)
    if failed:
        print(f"\nFailed drills: {', '.join(failed)}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
