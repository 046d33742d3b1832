"""The data layer: dataset resolution and verification, the decode cache, and the device-resident batch loader.

``load_dataset(name, data_dir)`` returns an :class:`ImageDataset` (uint8 images in memory, with the paper's
augmentation for it); :class:`DeviceLoader` turns its tensors into augmented, normalised batches on the device.
Loading never downloads; ``fetch_dataset(name, data_dir, mirror)`` fetches a dataset's official archives.
"""

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
from cskd.data.subset import subset

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
    "fetch_dataset",
    "fetchable_names",
    "get_source",
    "load_dataset",
    "resolve_data_dir",
    "subset",
    "verify_dataset",
]
