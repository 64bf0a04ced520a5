"""Durable on-disk spool of ILP batches that could not be written, and the dead-letter file.

Each failed batch becomes one segment file `<sequence>-<rows>.ilp` holding its ILP
lines, written to a temporary name, synced and renamed, so a crash never leaves a
partial segment. Segments are replayed oldest first. Every method here blocks:
call it in an executor.
"""

from __future__ import annotations

from dataclasses import dataclass
import os
from pathlib import Path
import time


@dataclass(frozen=True, slots=True)
class Segment:
    """One spooled batch."""

    path: Path
    rows: int
    size: int


class Spool:
    """Append-only segments of ILP lines, bounded in size."""

    def __init__(self, directory: Path, max_bytes: int) -> None:
        """Use `directory` (created when missing) for segments and the dead-letter file."""
        self.directory = directory
        self.max_bytes = max_bytes
        self.dead_letter_path = directory / "dead-letter.ilp"
        self._segments: list[Segment] = []
        self._next = 1
        self.rows = 0
        self.bytes = 0

    def load(self) -> None:
        """Find the segments left by an earlier run."""
        self.directory.mkdir(parents=True, exist_ok=True)
        segments: list[tuple[int, Segment]] = []
        for path in self.directory.glob("*.ilp.tmp"):
            path.unlink(missing_ok=True)
        for path in self.directory.glob("*-*.ilp"):
            seq_text, _, rows_text = path.stem.partition("-")
            if not (seq_text.isdigit() and rows_text.isdigit()):
                continue
            segments.append(
                (int(seq_text), Segment(path, int(rows_text), path.stat().st_size))
            )
        segments.sort(key=lambda item: item[0])
        self._segments = [segment for _, segment in segments]
        self._next = segments[-1][0] + 1 if segments else 1
        self.rows = sum(s.rows for s in self._segments)
        self.bytes = sum(s.size for s in self._segments)

    def __len__(self) -> int:
        """Return the number of segments."""
        return len(self._segments)

    def has_room(self, size: int) -> bool:
        """Return whether `size` more bytes fit."""
        return self.bytes + size <= self.max_bytes

    def append(self, payload: bytes, rows: int) -> bool:
        """Store a batch durably; return False (nothing stored) when the spool is full."""
        if not payload:
            return True
        if not self.has_room(len(payload)):
            return False
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"{self._next:012d}-{rows}.ilp"
        tmp = path.with_name(path.name + ".tmp")
        with tmp.open("wb") as file:
            file.write(payload)
            file.flush()
            os.fsync(file.fileno())
        tmp.replace(path)
        self._sync_dir()
        self._next += 1
        self._segments.append(Segment(path, rows, len(payload)))
        self.rows += rows
        self.bytes += len(payload)
        return True

    def oldest(self) -> tuple[Segment, bytes] | None:
        """Return the oldest segment and its content."""
        if not self._segments:
            return None
        segment = self._segments[0]
        return segment, segment.path.read_bytes()

    def remove(self, segment: Segment) -> None:
        """Forget a segment once QuestDB has it."""
        segment.path.unlink(missing_ok=True)
        self._segments.remove(segment)
        self.rows -= segment.rows
        self.bytes -= segment.size

    def dead_letter(self, lines: bytes, reason: str) -> None:
        """Set rejected lines aside, each group headed by a comment with the reason."""
        self.directory.mkdir(parents=True, exist_ok=True)
        header = f"# {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} {reason}"
        header = header.replace("\n", " ")[:2000] + "\n"
        with self.dead_letter_path.open("ab") as file:
            file.write(header.encode())
            file.write(lines if lines.endswith(b"\n") else lines + b"\n")
            file.flush()
            os.fsync(file.fileno())

    def _sync_dir(self) -> None:
        """Make the rename durable."""
        fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
