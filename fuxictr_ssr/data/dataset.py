"""The data path of one experiment (:class:`DataPlan`): where its splits are, whether they need
preprocessing, and which loader reads them.

Raw splits are preprocessed once into ``<data_root>/<dataset_id>/`` (``feature_map.json`` plus the
encoded splits) and reused while that folder holds them and the raw files keep the content recorded
in its ``raw_sources.json`` (:mod:`fuxictr_ssr.data.manifest`; a replaced raw file makes a rebuild,
with a warning; a store without a manifest is used with a warning that it cannot be checked): ``data_format: h5`` stores raw csv as an
h5 column store without Ray (:mod:`fuxictr_ssr.data.h5_store`); ``csv`` / ``parquet`` go through
fuxictr's ``build_dataset``; ``npz`` (and given h5 splits) are read as they are.
"""
import contextlib
import glob
import importlib
import logging
import os

import numpy as np

from ..compat import rank_data_loaders
from ..config import RAW_DATA_FORMATS, SPLIT_KEYS, data_format, preprocessed_parquet
from ..safe_files import exclusive, write_json
from .h5_store import build_h5_dataset, is_h5_path, load_feature_map
from .loader import ColumnarDataLoader, split_labels
from .manifest import MANIFEST_FILE, changed_split, read_json_file, signatures
from .raw_check import check_raw_splits
from .streaming import StreamingH5Loader

DATA_LOADERS = {"columnar": ColumnarDataLoader, "streaming": StreamingH5Loader, "fuxictr": None}


def relocate_data_root(params, data_root):
    """Point the dataset at ``data_root``: it replaces ``data_root`` and that prefix of the split paths."""
    old_root = os.path.normpath(params["data_root"])
    for key in SPLIT_KEYS:
        path = params.get(key)
        if path and os.path.normpath(path).startswith(old_root + os.sep):
            params[key] = os.path.join(data_root, os.path.relpath(os.path.normpath(path), old_root))
    params["data_root"] = data_root


def import_object(dotted_path, key):
    module_name, _, attribute = dotted_path.rpartition(".")
    try:
        return getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError, ValueError):
        raise ValueError(f"{key}: cannot import {dotted_path!r} (expected 'package.module.ClassName')") from None


class DataPlan:
    """One experiment's data path, worked out once from its params (which it reads, never edits):
    the format, the store folder ``<data_root>/<dataset_id>/``, each split's given path and, for
    ``h5``, the store it is built into; whether this run preprocesses, and into which files.

    ``check()`` names a bad loader, processor or missing file without reading data;
    ``check_raw()`` scans the raw files a build is about to read; ``prepare()`` builds (once, under
    the folder's lock) and returns the feature map and the paths the loaders read; ``loaders()``
    makes them.
    """

    def __init__(self, params):
        self.params = params
        self.format = data_format(params)
        self.folder = os.path.join(params["data_root"], params["dataset_id"])
        self.feature_map_path = os.path.join(self.folder, "feature_map.json")
        self.given = {key: params[key] for key in SPLIT_KEYS if params.get(key)}
        # h5: each raw split is built into <folder>/<split>.h5; a split given as h5 is read as it is
        self.stores = {key: None if is_h5_path(path) else os.path.join(self.folder, key.split("_")[0] + ".h5")
                       for key, path in self.given.items()} if self.format == "h5" else {}
        given_stores = self.format == "h5" and not all(self.stores.values())
        self.preprocesses = (self.format in RAW_DATA_FORMATS + ("h5",) and not given_stores
                             and not preprocessed_parquet(params))

    def check(self):
        """Raise ``ValueError`` naming the loader, feature processor or first missing data file
        (and where to get it). Reads no data."""
        loader = self.params["data_loader"]
        if loader not in DATA_LOADERS:
            raise ValueError(f"data_loader: expected one of {', '.join(DATA_LOADERS)}, got {loader!r}")
        if loader == "streaming" and self.format != "h5":
            raise ValueError(f"data_loader: 'streaming' reads h5 data; data_format is {self.format!r}")
        import_object(self.params["feature_processor"], "feature_processor")
        if self.format == "h5":
            if not self._store_missing():
                return  # stored (or given) h5 splits: the loaders check them
            if not self.preprocesses:
                raise ValueError(f"data_format h5: the h5 splits need their feature map, {self.feature_map_path!r} "
                                 "(FuxiCTR 1.x or 2.x format), which was not found")
        elif self.format in RAW_DATA_FORMATS:
            if os.path.isfile(self.feature_map_path):
                return  # already preprocessed; the loader checks the processed splits
        elif not os.path.isfile(self.feature_map_path):
            raise ValueError(f"data_format {self.format} needs a preprocessed folder: "
                             f"{self.feature_map_path!r} not found")
        for key, path in self.given.items():
            if not glob.glob(path):
                hint = self.params.get("data_source")
                raise ValueError(
                    f"{key}: data file {path!r} of dataset {self.params['dataset_id']!r} not found"
                    + (f"; get it from {hint}" if hint else "")
                    + " (paths are relative to the folder the command runs in; set data paths in the dataset config)")

    def _store_missing(self):
        """Whether the feature map, or an h5 store to build, is not there yet."""
        return not os.path.isfile(self.feature_map_path) or any(
            path is not None and not os.path.isfile(path) for path in self.stores.values())

    def raw_files(self):
        """``{split key: [path, ...]}`` of the raw files a build reads."""
        return {key: sorted(glob.glob(os.path.join(path, "*") if os.path.isdir(path) else path))
                for key, path in self.given.items() if self.preprocesses and not is_h5_path(path)}

    @property
    def manifest_path(self):
        return os.path.join(self.folder, MANIFEST_FILE)

    def stale_split(self, raw_files):
        """The split key whose raw files changed since the store was built, or None (also for a
        store without a manifest, which cannot be checked)."""
        if not (os.path.isfile(self.manifest_path) and os.path.isfile(self.feature_map_path)):
            return None
        return changed_split(self.manifest_path, raw_files, self.params["data_root"])

    def needs_build(self):
        """Whether :meth:`prepare` will preprocess raw files (none stored yet, or stale)."""
        return self.preprocesses and (self._store_missing() or self.stale_split(self.raw_files()) is not None)

    def check_raw(self):
        """Scan the raw csv files a build is about to read (:mod:`fuxictr_ssr.data.raw_check`); a
        stored dataset is not read again."""
        if self.format in ("csv", "h5") and self.needs_build():
            check_raw_splits(self.params)

    def prepare(self):
        """Preprocess raw data unless done before from the same files (:meth:`check_raw` first);
        return ``(feature_map, paths)``, ``paths`` the split files the loaders read. A second
        process finds the folder's lock held, waits, then sees the finished store."""
        from fuxictr.features import FeatureMap
        from fuxictr.preprocess import build_dataset

        with exclusive(self.folder) if self.preprocesses else contextlib.nullcontext():
            raw_files = self.raw_files()
            stale = self.stale_split(raw_files)
            if stale:
                logging.warning("%s: %s changed (its size or its first or last MiB) since %s was built from it; "
                                "rebuilding", stale, self.given[stale], self.folder)
                os.remove(self.feature_map_path)
            built, paths = self.preprocesses and self._store_missing(), dict(self.given)
            if self.preprocesses and not built and not os.path.isfile(self.manifest_path):
                logging.warning("%s has no %s (built by FuxiCTR or an older version): whether its raw files changed "
                                "since cannot be checked; delete %s to rebuild it", self.folder, MANIFEST_FILE,
                                self.feature_map_path)
            if self.format == "h5":
                if built:
                    build_h5_dataset(self._processor(), self.params)
                paths.update({key: store for key, store in self.stores.items() if store})
            elif self.preprocesses:
                stored = build_dataset(self._processor(), **self.params)
                paths.update(zip(SPLIT_KEYS, stored))
            if built and any(raw_files.values()):
                write_json(self.manifest_path, signatures(raw_files, self.params["data_root"]))
        read_json_file(self.feature_map_path)  # a damaged feature map is named, not a JSON traceback
        feature_map = FeatureMap(self.params["dataset_id"], self.folder)
        return load_feature_map(feature_map, self.feature_map_path, self.params), paths

    def _processor(self):
        return import_object(self.params["feature_processor"], "feature_processor")(**self.params)

    def check_evaluable(self, feature_map, paths):
        """AUC needs both classes in each split it is computed on (valid every epoch, test at the
        end): check that before training instead of failing after the first epoch or the last."""
        monitor = self.params.get("monitor", "")
        names = list(self.params.get("metrics", [])) + list(monitor if isinstance(monitor, dict) else [monitor])
        if not any("AUC" in str(name) for name in names):
            return
        for key in ("valid_data", "test_data"):
            if not paths.get(key):
                continue
            for label, values in split_labels(feature_map, paths[key]).items():
                classes = np.unique(values)
                if len(classes) < 2:
                    raise ValueError(f"{key}: {paths[key]}: label {label!r} is {classes.tolist()} in all {len(values)} "
                                     "rows; AUC (in metrics or monitor) needs both classes in this split")

    def loaders(self, feature_map, paths, stage):
        """fuxictr's ``RankDataLoader`` with the configured loader class over ``paths``:
        ``(train, valid)`` for ``stage="train"``, the test loader for ``stage="test"``."""
        loader_params = {**self.params, **paths}
        loader_class = DATA_LOADERS[self.params["data_loader"]]
        if loader_class is None:
            loader_params.pop("data_loader")
        else:
            loader_params["data_loader"] = loader_class
        return rank_data_loaders(feature_map, stage, **loader_params)


def feature_map_from_config(params, vocab_size=7):
    """The feature map fuxictr would write for a dataset block, with small vocabularies (enough
    to build a model and count its non-embedding parameters without reading any data)."""
    from fuxictr.features import FeatureMap
    feature_map = FeatureMap(params["dataset_id"], data_dir="unused")
    for column in params["feature_cols"]:
        if column.get("active") is False:
            continue
        names = column["name"] if isinstance(column["name"], list) else [column["name"]]
        for name in names:
            spec = {"source": "", "type": column["type"]}
            if column["type"] in ("categorical", "sequence"):
                spec.update(padding_idx=0, vocab_size=vocab_size)
            if column["type"] == "sequence":
                spec.update(max_len=column["max_len"], feature_encoder=column["feature_encoder"])
            feature_map.features[name] = spec
    feature_map.labels = [params["label_col"]["name"]]
    feature_map.num_fields = feature_map.get_num_fields()
    feature_map.set_column_index()
    return feature_map
