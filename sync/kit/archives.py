"""Zip files a person hands us, read within limits: a small file must not unpack into gigabytes.

A zip's directory declares each member's size, and Python's zipfile stops at that size; but the directory is
written by whoever made the file. So the declared sizes are checked before anything is inflated (a bomb that
admits its size costs nothing), and the bytes are counted again as they are inflated, in pieces, against the
same limits and against the compression ratio: text compresses 5 to 20 times, a run of one byte 1,000 times.
Each refusal names the limit it met, so whoever made the file knows what to change.

The limits fit what the county hands the hub in a zip: the catalog's CSV tables, a few MB in all.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

MIB = 1024 * 1024
# One member: a county catalog's largest table is a few MB; 64 MiB leaves room for any county's and its notes.
MAX_MEMBER_BYTES = 64 * MIB
# Every member read, together.
MAX_TOTAL_BYTES = 128 * MIB
# Members listed in the directory (Excel and Finder add a few of their own; a catalog has five tables).
MAX_MEMBERS = 1000
# Inflated bytes per compressed byte: CSV text stays well under 30:1, a bomb is over 1,000:1. A member's first
# MiB is exempt, so a short table of repeated cells is never refused for compressing well.
MAX_RATIO = 100
RATIO_EXEMPT_BYTES = MIB
# Inflate this much at a time: the most held beyond what the member has proven it may take.
READ_PIECE = 256 * 1024


class ArchiveRefused(ValueError):
    """A zip that is not read; the message says why and what to give instead."""


class ArchiveTooLarge(ArchiveRefused):
    """A zip past one of the limits; the message names the file, the member and the limit."""


class ArchiveUnreadable(ArchiveRefused):
    """A zip Python cannot unpack: a member locked with a password, or packed with a method zipfile lacks."""


@dataclass(frozen=True, kw_only=True)
class ArchiveLimits:
    """How much of a zip may be inflated, and how densely."""

    max_member_bytes: int = MAX_MEMBER_BYTES
    max_total_bytes: int = MAX_TOTAL_BYTES
    max_members: int = MAX_MEMBERS
    max_ratio: int = MAX_RATIO
    ratio_exempt_bytes: int = RATIO_EXEMPT_BYTES

    def __repr__(self) -> str:
        return (f"ArchiveLimits(member={self.max_member_bytes}, total={self.max_total_bytes}, "
                f"members={self.max_members}, ratio={self.max_ratio}:1 past {self.ratio_exempt_bytes})")


ZIP_LIMITS = ArchiveLimits()


def mib(size: int) -> str:
    """``size`` in MiB as people read it: "64 MiB"."""
    return f"{size / MIB:g} MiB"


class BoundedZip:
    """A zip whose members are read only within ``limits``; opening it checks its directory."""

    def __init__(self, archive: zipfile.ZipFile, source: str | Path, limits: ArchiveLimits = ZIP_LIMITS):
        self.archive, self.source, self.limits = archive, Path(source).name, limits
        self.inflated = 0
        self._check_directory()

    def _check_directory(self) -> None:
        """Refuse what the directory already admits: too many members, or sizes past the limits."""
        members, limits = self.archive.infolist(), self.limits
        if len(members) > limits.max_members:
            raise ArchiveTooLarge(f"{self.source} holds {len(members)} files, more than the {limits.max_members} "
                                  "a zip may hold here; zip only the files asked for")
        for info in members:
            if info.file_size > limits.max_member_bytes:
                raise self._member_too_large(info)
        declared = sum(info.file_size for info in members)
        if declared > limits.max_total_bytes:
            raise self._total_too_large(declared)

    def files(self) -> list[zipfile.ZipInfo]:
        """The members that are files, not folders."""
        return [info for info in self.archive.infolist() if not info.is_dir()]

    def read(self, info: zipfile.ZipInfo) -> bytes:
        """The inflated bytes of ``info``, counted piece by piece against the limits as they come."""
        pieces, size = [], 0
        try:
            with self.archive.open(info) as member:
                while piece := member.read(READ_PIECE):
                    size += len(piece)
                    self._check_progress(info, size)
                    pieces.append(piece)
        except RuntimeError:  # zipfile's word for a member that needs a password
            raise ArchiveUnreadable(f"{self.source} is locked with a password: unzip it, then zip the files again "
                                    "without one") from None
        except NotImplementedError:
            raise ArchiveUnreadable(f"{self.source} is packed with a compression method this program cannot read: "
                                    "unzip it, then zip the files again with ordinary (deflate) compression") from None
        self.inflated += size
        return b"".join(pieces)

    def _check_progress(self, info: zipfile.ZipInfo, size: int) -> None:
        limits = self.limits
        if size > limits.max_member_bytes:
            raise self._member_too_large(info)
        if self.inflated + size > limits.max_total_bytes:
            raise self._total_too_large(self.inflated + size)
        if size > limits.ratio_exempt_bytes and size > limits.max_ratio * max(info.compress_size, 1):
            raise ArchiveTooLarge(
                f"{info.filename} in {self.source} inflates more than {limits.max_ratio} times its compressed "
                f"size ({info.compress_size} bytes became over {size}), past the limit of {limits.max_ratio}:1 "
                "for a file in a zip: it is not a table anyone typed; zip the CSV files again from Excel")

    def _member_too_large(self, info: zipfile.ZipInfo) -> ArchiveTooLarge:
        return ArchiveTooLarge(f"{info.filename} in {self.source} is larger than {mib(self.limits.max_member_bytes)}"
                               " once unzipped, the limit for one file in a zip; check that it is the right file")

    def _total_too_large(self, size: int) -> ArchiveTooLarge:
        return ArchiveTooLarge(f"{self.source} unzips to more than {mib(self.limits.max_total_bytes)} ({size} "
                               "bytes or more), the limit for a whole zip; zip only the files asked for")
