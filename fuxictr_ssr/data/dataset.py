"""The data path of one experiment: where its splits are, whether they need preprocessing, and
which loader reads them.

Raw splits are preprocessed once into ``<data_root>/<dataset_id>/`` (``feature_map.json`` plus the
encoded splits) and reused while that folder holds them and the raw files keep the size and mtime
recorded in its ``raw_sources.json`` (a replaced raw file makes a rebuild, with a warning): ``data_format: h5`` stores raw csv as an
h5 column store without Ray (:mod:`fuxictr_ssr.data.h5_store`); ``csv`` / ``parquet`` go through
fuxictr's ``build_dataset``; ``npz`` (and given h5 splits) are read as they are.
"""
import contextlib
import glob
import importlib
import json
import logging
import os

import numpy as np

from ..compat import rank_data_loaders
from ..config import RAW_DATA_FORMATS, SPLIT_KEYS, data_format, preprocessed_parquet
from ..safe_files import exclusive, write_json
from .h5_store import build_h5_dataset, is_h5_path, load_feature_map
from .loader import ColumnarDataLoader, split_labels
from .raw_check import check_raw_splits
from .streaming import StreamingH5Loader

RAW_SOURCES_FILE = "raw_sources.json"
DATA_LOADERS = {"columnar": ColumnarDataLoader, "streaming": StreamingH5Loader, "fuxictr": None}


def data_dir(params):
    return os.path.join(params["data_root"], params["dataset_id"])


def feature_map_path(params):
    return os.path.join(data_dir(params), "feature_map.json")


def _h5_store_paths(params):
    """Where the h5 build puts each split given as raw csv (None for splits given as h5)."""
    return {key: None if is_h5_path(params[key]) else os.path.join(data_dir(params), key.split("_")[0] + ".h5")
            for key in SPLIT_KEYS if params.get(key)}


def _h5_needs_build(params):
    paths = _h5_store_paths(params)
    return not os.path.isfile(feature_map_path(params)) or any(
        path is not None and not os.path.isfile(path) for path in paths.values())


def check_dataset(params):
    """Check the loader, the feature processor and the data files of ``params`` (a dataset block
    merged into an experiment); raise ``ValueError`` naming the key or file. Reads no data."""
    if params["data_loader"] not in DATA_LOADERS:
        raise ValueError(f"data_loader: expected one of {', '.join(DATA_LOADERS)}, got {params['data_loader']!r}")
    if params["data_loader"] == "streaming" and data_format(params) != "h5":
        raise ValueError(f"data_loader: 'streaming' reads h5 data; data_format is {data_format(params)!r}")
    import_object(params["feature_processor"], "feature_processor")
    check_data_files(params)


def check_data_files(params):
    """Raise ``ValueError`` naming the first data file that is missing, and where to get it."""
    if data_format(params) == "h5":
        if not _h5_needs_build(params):
            return  # stored (or given) h5 splits: the loaders check them
        if not all(_h5_store_paths(params).values()):
            raise ValueError(f"data_format h5: the h5 splits need their feature map, {feature_map_path(params)!r} "
                             "(FuxiCTR 1.x or 2.x format), which was not found")
    elif data_format(params) in RAW_DATA_FORMATS:
        if os.path.isfile(feature_map_path(params)):
            return  # already preprocessed; the loader checks the processed splits
    elif not os.path.isfile(feature_map_path(params)):
        raise ValueError(f"data_format {data_format(params)} needs a preprocessed folder: "
                         f"{feature_map_path(params)!r} not found")
    for key in SPLIT_KEYS:
        path = params.get(key)
        if path and not glob.glob(path):
            hint = params.get("data_source")
            raise ValueError(
                f"{key}: data file {path!r} of dataset {params['dataset_id']!r} not found"
                + (f"; get it from {hint}" if hint else "")
                + " (paths are relative to the folder the command runs in; set data paths in the dataset config)")


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


def _raw_files(params):
    """``{split key: [[path, size, mtime_ns], ...]}`` of the raw files the splits name."""
    found = {}
    for key in SPLIT_KEYS:
        path = params.get(key)
        if path and not is_h5_path(path):
            files = sorted(glob.glob(os.path.join(path, "*") if os.path.isdir(path) else path))
            found[key] = [[os.path.abspath(f), os.path.getsize(f), os.stat(f).st_mtime_ns] for f in files]
    return found


def _stale_split(params, raw_files):
    """The split key whose raw files changed (size or mtime) since the store was built, or None."""
    manifest = os.path.join(data_dir(params), RAW_SOURCES_FILE)
    if not (os.path.isfile(manifest) and os.path.isfile(feature_map_path(params))):
        return None
    with open(manifest) as handle:
        recorded = json.load(handle)
    return next((key for key, files in raw_files.items() if files and files != recorded.get(key)), None)


def _builds(params):
    """Whether :func:`prepare_data` will preprocess raw files (none stored yet, or stale)."""
    if data_format(params) not in RAW_DATA_FORMATS + ("h5",):
        return False
    if data_format(params) == "h5" and not all(_h5_store_paths(params).values()):
        return False  # given h5 splits
    missing = _h5_needs_build(params) if data_format(params) == "h5" else not os.path.isfile(feature_map_path(params))
    return missing or _stale_split(params, _raw_files(params)) is not None


def check_raw_data(params):
    """Check the raw csv files that :func:`prepare_data` is about to preprocess (see
    :mod:`fuxictr_ssr.data.raw_check`); a stored dataset is not read again."""
    if data_format(params) in ("csv", "h5") and _builds(params):
        check_raw_splits(params)


def prepare_data(params):
    """Preprocess raw data (unless done before, from the same files; :func:`check_raw_data` first)
    and point the split paths at the stored splits; return the FeatureMap."""
    from fuxictr.features import FeatureMap
    from fuxictr.preprocess import build_dataset

    builds = data_format(params) in RAW_DATA_FORMATS + ("h5",)
    # A second process finds the lock held, waits, and then sees the finished store; a folder of
    # given stores (preprocessed parquet, h5 splits) is never built into, so it gets no lock file
    builds_here = builds and not preprocessed_parquet(params) and (
        data_format(params) != "h5" or all(_h5_store_paths(params).values()))
    with exclusive(data_dir(params)) if builds_here else contextlib.nullcontext():
        raw_files = _raw_files(params) if builds else {}
        stale = _stale_split(params, raw_files)
        if stale:
            logging.warning("%s: %s changed (size or mtime) since %s was built from it; rebuilding", stale,
                            params[stale], data_dir(params))
            os.remove(feature_map_path(params))
        built = False
        if data_format(params) == "h5":
            if _h5_needs_build(params):
                build_h5_dataset(_make_processor(params), params)
                built = True
            for key, stored in _h5_store_paths(params).items():
                params[key] = stored or params[key]
        elif data_format(params) in RAW_DATA_FORMATS and not preprocessed_parquet(params):
            built = not os.path.isfile(feature_map_path(params))
            params["train_data"], params["valid_data"], params["test_data"] = build_dataset(_make_processor(params), **params)
        if built and any(raw_files.values()):
            write_json(os.path.join(data_dir(params), RAW_SOURCES_FILE), raw_files)
    feature_map = FeatureMap(params["dataset_id"], data_dir(params))
    return load_feature_map(feature_map, feature_map_path(params), params)


def check_evaluable_splits(feature_map, params):
    """AUC needs both classes in each split it is computed on (valid every epoch, test at the end):
    check that before training instead of failing after the first epoch or after the last."""
    monitor = params.get("monitor", "")
    names = list(params.get("metrics", [])) + list(monitor if isinstance(monitor, dict) else [monitor])
    if not any("AUC" in str(name) for name in names):
        return
    for key in ("valid_data", "test_data"):
        if not params.get(key):
            continue
        for label, values in split_labels(feature_map, params[key]).items():
            classes = np.unique(values)
            if len(classes) < 2:
                raise ValueError(f"{key}: {params[key]}: label {label!r} is {classes.tolist()} in all {len(values)} "
                                 "rows; AUC (in metrics or monitor) needs both classes in this split")


def _make_processor(params):
    return import_object(params["feature_processor"], "feature_processor")(**params)


def make_loaders(feature_map, params, stage):
    """fuxictr's ``RankDataLoader`` with the configured loader class: ``(train, valid)`` for
    ``stage="train"``, the test loader for ``stage="test"``."""
    loader_params = dict(params)
    loader_class = DATA_LOADERS[params["data_loader"]]
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
