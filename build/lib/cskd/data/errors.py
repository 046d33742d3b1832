"""The data layer's exceptions: missing data, corrupt data, failed downloads, unknown dataset names.

Every message names the problem and the fix; :class:`DatasetError` lets a caller catch them all at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path


class DatasetError(Exception):
    """Base class of every data-layer error."""


class DatasetNotFoundError(DatasetError, FileNotFoundError):
    """The dataset's files are not where they were looked for; the message lists each place and how to supply them."""

    @classmethod
    def looked(cls, name: str, places: Sequence[tuple[Path | str, str]], how: str) -> DatasetNotFoundError:
        """Build the error from ``(place, what was wrong there)`` pairs and a hint on how to supply the files."""
        lines = [f"dataset {name!r} not found; looked at:"]
        lines += [f"  - {place}: {problem}" for place, problem in places]
        lines.append(how)
        return cls("\n".join(lines))


class DatasetIntegrityError(DatasetError, ValueError):
    """The files exist but are corrupt or incomplete (checksum mismatch, wrong image counts, unreadable image)."""


class DatasetDownloadError(DatasetError):
    """An archive could not be fetched (no network, refused, missing from the mirror, transfer stopped); the message
    names the source, the file with its size and checksum, and where to put it by hand."""


class UnknownDatasetError(DatasetError, KeyError):
    """An unknown dataset name; the message lists the closest valid names."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])
