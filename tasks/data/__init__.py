"""Data layer of a host: on-disk layout, catalogue, partitioning and demo data.

Records never leave the host; only the metadata in the catalogue does.
"""

from tasks.data.catalogue import ColumnInfo, DatasetInfo, fingerprint_file, load_dataset, scan_catalogue
from tasks.data.errors import DatasetNotFound
from tasks.data.layout import LABEL_COLUMN

__all__ = [
    "LABEL_COLUMN",
    "ColumnInfo",
    "DatasetInfo",
    "DatasetNotFound",
    "fingerprint_file",
    "load_dataset",
    "scan_catalogue",
]
