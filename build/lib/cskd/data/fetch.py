"""Fetching datasets, and choosing among alternatives: what is present, what can be fetched, what must be supplied.

``fetch_dataset`` downloads (or copies from a mirror) each official archive a source declares, verifies it, extracts it
atomically and verifies what was extracted. ``choose_dataset`` picks the dataset a suite runs on from its alternatives
(``dataset: [cifar10-jpeg, cifar10]``): the first present one, else the first fetchable one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cskd.data.errors import DatasetNotFoundError
from cskd.data.files import notify, resolve_data_dir
from cskd.data.registry import dataset_names, get_source
from cskd.data.remote import download, human_size, resolve_mirror, source_of

PRESENT, FETCHABLE, MISSING = "present", "fetchable", "missing"


@dataclass(frozen=True)
class Availability:
    """Whether a dataset is ``present``, ``fetchable`` (missing, with official archives to fetch) or ``missing``;
    ``detail`` says where it is, what would be fetched (file, size, source), or how to supply it."""

    name: str
    state: str
    detail: str


def availability(name: str, data_dir: Path | str | None = None, mirror: str | None = None) -> Availability:
    source = get_source(name)
    root = resolve_data_dir(data_dir)
    present, where = source.status(root)
    if present:
        return Availability(name, PRESENT, where)
    if source.archives:
        mirror = resolve_mirror(mirror)
        what = ", ".join(f"{a.file_name} ({human_size(a.size)}) from {source_of(a, mirror)}" for a in source.archives)
        return Availability(name, FETCHABLE, what)
    return Availability(name, MISSING, where)


def choose_dataset(
    names: Sequence[str], data_dir: Path | str | None = None, download: bool = True, mirror: str | None = None
) -> Availability:
    """The dataset to run on among ``names``: the first present one, else (when ``download``) the first fetchable one.

    A single name is returned whatever its state (loading it raises the usual not-found error); when several names
    are given and none can be used, raises ``DatasetNotFoundError`` with each one's state and how to supply it.
    """
    options = [availability(name, data_dir, mirror) for name in names]
    usable = (PRESENT, FETCHABLE) if download else (PRESENT,)
    for state in usable:
        for option in options:
            if option.state == state:
                return option
    if len(options) == 1:
        return options[0]
    root = resolve_data_dir(data_dir)
    lines = [
        f"none of the datasets {', '.join(names)} is present in {root} (the first present one is used, else the "
        "first fetchable one is fetched):"
    ]
    for option in options:
        if option.state == FETCHABLE:
            lines.append(f"  - {option.name}: fetchable ({option.detail}), but --no-download was given")
        else:
            lines.append(f"  - {option.name}: missing. {option.detail}")
    raise DatasetNotFoundError("\n".join(lines))


def fetchable_names() -> list[str]:
    """The named datasets that declare official archives (what ``cskd data fetch all`` fetches)."""
    return [name for name in dataset_names() if get_source(name).archives]


def fetch_dataset(name: str, data_dir: Path | str | None = None, mirror: str | None = None) -> str:
    """Make ``name`` present: download each official archive missing from the data directory (from ``mirror`` when
    given, else ``$CSKD_DATA_MIRROR``, else the official URL), verify it, extract it atomically, then verify the
    extracted files. Returns what is present and how it was checked; raises a ``DatasetError`` naming the problem.
    A dataset without archives (nothing to fetch) is only verified when present."""
    source = get_source(name)
    root = resolve_data_dir(data_dir)
    if not source.archives:
        if source.status(root)[0]:
            return source.verify(root)
        how = source.how(root)
        raise DatasetNotFoundError(f"dataset {name!r} cannot be fetched: it has no official archive. {how}")
    mirror = resolve_mirror(mirror)
    for archive in source.archives:
        if not (root / archive.folder).is_dir() and not (root / archive.file_name).is_file():
            notify(f"fetching {name}: {archive.describe()}")
            download(archive, root, mirror)
    source.ensure_extracted(root)
    return source.verify(root)
