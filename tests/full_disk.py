"""A cache disk that fills up after a given number of records, without filling a real disk.

``fileio`` is given a stand-in for ``os`` whose ``fsync`` fails with ENOSPC once ``room`` files
were written, as a full filesystem fails a write: after the temp file exists, before it replaces
the record. Only ``fileio`` sees it, so pytest's own files are untouched.
"""

from __future__ import annotations

import errno
import os

import pytest

from pytest_scaling import fileio


class FullDisk:
    def __init__(self, room: int):
        self.room, self.written, self.refused = room, 0, 0

    def __getattr__(self, name):
        return getattr(os, name)

    def fsync(self, fd: int) -> None:
        if self.written >= self.room:
            self.refused += 1
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self.written += 1
        os.fsync(fd)


def fill_after(monkeypatch: pytest.MonkeyPatch, room: int) -> FullDisk:
    """Make the cache's disk full after ``room`` more records."""
    disk = FullDisk(room)
    monkeypatch.setattr(fileio, "os", disk)
    return disk


def temp_files(directory) -> list:
    """Files ``atomic_write`` would have left behind (``.<name>.<random>.tmp``)."""
    return [path for path in directory.rglob("*.tmp")]
