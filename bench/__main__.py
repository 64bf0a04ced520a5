"""`python -m bench` (`make bench`): every benchmark in turn, each figure beside its baseline.

The servers must be up (`scripts/services start`); each benchmark prints its own table.
Pass `--rows N` to size the API benchmark (default 1,000,000 readings). The footprint
benchmark starts real Home Assistant processes (about 4 minutes).
"""

from __future__ import annotations

import subprocess
import sys


def main() -> int:
    """Run the forwarder, API and footprint benchmarks as separate processes."""
    extra = sys.argv[1:]
    failed = 0
    for module, args in (
        ("bench.bench_forwarder", []),
        ("bench.bench_api", extra),
        ("bench.bench_serialise", []),
        ("bench.bench_footprint", []),
    ):
        print(f"\n===== {module} {' '.join(args)}", flush=True)
        failed |= subprocess.run(
            [sys.executable, "-m", module, *args], check=False
        ).returncode
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
