"""The data layer: dataset resolution and verification, the decode cache, and the device-resident batch loader.

``load_dataset(name, data_dir)`` returns an :class:`ImageDataset` (uint8 images in memory, with the paper's
augmentation for it); :class:`DeviceLoader` turns its tensors into augmented, normalised batches on the device.
Loading never downloads; ``fetch_dataset(name, data_dir, mirror)`` fetches a dataset's official archives.
"""

from importlib import import_module
from typing import TYPE_CHECKING

# a name that is also a submodule's is bound here, before any import of the submodule could bind the module to it
from cskd.data.subset import subset

if TYPE_CHECKING:
    from cskd.data.augment import AugmentSpec
    from cskd.data.dataset import ImageDataset
    from cskd.data.errors import (
        DatasetDownloadError,
        DatasetError,
        DatasetIntegrityError,
        DatasetNotFoundError,
        UnknownDatasetError,
    )
    from cskd.data.fetch import (
        FETCHABLE,
        MISSING,
        PRESENT,
        Availability,
        availability,
        choose_dataset,
        fallback_notice,
        fetch_dataset,
        fetchable_names,
    )
    from cskd.data.files import resolve_data_dir
    from cskd.data.loader import DeviceLoader
    from cskd.data.registry import (
        dataset_input_size,
        dataset_names,
        dataset_split_sizes,
        dataset_status,
        get_source,
        load_dataset,
        verify_dataset,
    )
    from cskd.data.remote import RemoteArchive
    from cskd.data.shipped import load_subset

#: where each public name lives: importing the package imports none of them (but ``subset``, whose module imports
#: torch only when called), so that planning (suite checks, dataset sizes, availability) never imports torch; a
#: name's module is imported on its first use (PEP 562)
_HOME = {
    "AugmentSpec": "cskd.data.augment",
    "ImageDataset": "cskd.data.dataset",
    "DatasetDownloadError": "cskd.data.errors",
    "DatasetError": "cskd.data.errors",
    "DatasetIntegrityError": "cskd.data.errors",
    "DatasetNotFoundError": "cskd.data.errors",
    "UnknownDatasetError": "cskd.data.errors",
    "FETCHABLE": "cskd.data.fetch",
    "MISSING": "cskd.data.fetch",
    "PRESENT": "cskd.data.fetch",
    "Availability": "cskd.data.fetch",
    "availability": "cskd.data.fetch",
    "choose_dataset": "cskd.data.fetch",
    "fallback_notice": "cskd.data.fetch",
    "fetch_dataset": "cskd.data.fetch",
    "fetchable_names": "cskd.data.fetch",
    "resolve_data_dir": "cskd.data.files",
    "DeviceLoader": "cskd.data.loader",
    "dataset_input_size": "cskd.data.registry",
    "dataset_names": "cskd.data.registry",
    "dataset_split_sizes": "cskd.data.registry",
    "dataset_status": "cskd.data.registry",
    "get_source": "cskd.data.registry",
    "load_dataset": "cskd.data.registry",
    "verify_dataset": "cskd.data.registry",
    "RemoteArchive": "cskd.data.remote",
    "load_subset": "cskd.data.shipped",
}


def __getattr__(name: str) -> object:
    """``cskd.data.NAME``: imported from its module on first use (and cached in the package)."""
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(_HOME[name]), name)
    globals()[name] = value
    return value


__all__ = [
    "FETCHABLE",
    "MISSING",
    "PRESENT",
    "AugmentSpec",
    "Availability",
    "DatasetDownloadError",
    "DatasetError",
    "DatasetIntegrityError",
    "DatasetNotFoundError",
    "DeviceLoader",
    "ImageDataset",
    "RemoteArchive",
    "UnknownDatasetError",
    "availability",
    "choose_dataset",
    "dataset_input_size",
    "dataset_names",
    "dataset_split_sizes",
    "dataset_status",
    "fallback_notice",
    "fetch_dataset",
    "fetchable_names",
    "get_source",
    "load_dataset",
    "load_subset",
    "resolve_data_dir",
    "subset",
    "verify_dataset",
]
