"""The data layer: the real datasets' on-disk formats, manifests, image checks and downloads.

One module per concern: :mod:`~sadutils.data.images` (what counts as a readable image),
:mod:`~sadutils.data.formats` (errors and the result every loader returns), one module per
dataset (:mod:`~sadutils.data.webemo`, :mod:`~sadutils.data.unbiasedemo`,
:mod:`~sadutils.data.emotion6`, :mod:`~sadutils.data.cocotext`, :mod:`~sadutils.data.rgp`), the
registry of loaders (:mod:`~sadutils.data.loaders`), manifests (:mod:`~sadutils.data.manifests`),
the WEBEmo downloader (:mod:`~sadutils.data.download`), ``sadutils fetch``
(:mod:`~sadutils.data.fetch`) and the time limit both hold for every transport
(:mod:`~sadutils.data.transport`). Nothing here imports TensorFlow.
"""
from .formats import FormatError, Loaded
from .loaders import LOADERS, load_dataset
from .manifests import (in_key_order, manifest_hash, read_manifest, row_keys, sample_per_class,
                        save_manifest, stratified_split)

__all__ = ["FormatError", "Loaded", "LOADERS", "load_dataset", "in_key_order", "manifest_hash",
           "read_manifest", "row_keys", "sample_per_class", "save_manifest", "stratified_split"]
