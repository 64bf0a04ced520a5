"""Home Assistant's own package constraints, the file HA installs every requirement under.

`python -m tools.ha_constraints VERSION` prints the path of that version's
`homeassistant/package_constraints.txt`, fetched once (`pip download --no-deps` of
HA's wheel) into the user's cache folder, so later clones and CI runs reuse it.
"""

from __future__ import annotations

import os
from pathlib import Path
import subprocess
import sys
import tempfile
import zipfile

CONSTRAINTS_MEMBER = "homeassistant/package_constraints.txt"


def cache_folder() -> Path:
    """Return where fetched constraints are kept (outside the clone)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "energy-tracker" / "homeassistant-constraints"


def pip_download(requirement: str, destination: Path, *options: str) -> None:
    """Download one distribution, without its dependencies, into `destination`."""
    subprocess.run(  # noqa: S603 - our own interpreter, a fixed command
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--disable-pip-version-check",
            "--no-deps",
            *options,
            requirement,
            "--dest",
            str(destination),
        ],
        check=True,
        timeout=600,
    )


def constraints_file(version: str) -> Path:
    """Return the path of HA `version`'s package_constraints.txt, fetching it once."""
    target = cache_folder() / f"{version}.txt"
    if target.is_file() and target.stat().st_size:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as download:
        # Newer HA needs a newer Python than this one: ask for the wheel as such a
        # Python would (HA's wheel is pure Python).
        pip_download(
            f"homeassistant=={version}",
            Path(download),
            "--only-binary=:all:",
            "--python-version=3.14.2",
        )
        wheel = next(Path(download).glob("homeassistant-*.whl"))
        with zipfile.ZipFile(wheel) as archive:
            text = archive.read(CONSTRAINTS_MEMBER)
        partial = target.with_suffix(".part")
        partial.write_bytes(text)
        partial.replace(target)
    return target


def main() -> None:
    """Print the constraints file of the version given on the command line."""
    if len(sys.argv) != 2:
        sys.exit("usage: python -m tools.ha_constraints VERSION")
    print(constraints_file(sys.argv[1]))  # noqa: T201


if __name__ == "__main__":
    main()
