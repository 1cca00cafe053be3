"""h5 column store: build it from raw csv without Ray, and read it back in every FuxiCTR layout.

Building (``data_format: h5`` with csv splits) fits fuxictr's own ``FeatureProcessor`` on the
train split (vocabularies, ``min_categr_count``, normalisers: exactly fuxictr's encoding), then
reads each split's csv in chunks through the processor's ``preprocess`` and writes
``<data_root>/<dataset_id>/<split>.h5``: one chunked dataset per column in its narrowest native
dtype (int32 ids, float32 numerics and labels). Memory while transforming is O(chunk).
``feature_map.json`` is written last, so an interrupted build is redone on the next run instead of
being mistaken for a finished one.

Reading understands three layouts:

* ours and FuxiCTR 2.0-2.1: one dataset per column name, in ``<split>.h5`` or a folder of
  block files ``<split>/*.h5``;
* FuxiCTR 1.x: one 2-D array under the key ``data``, columns in feature-map order (features,
  then the label), with 1.x's ``feature_map.json`` (``feature_specs`` instead of ``features``).
"""
import glob
import io
import json
import logging
import os
from collections import OrderedDict

import h5py
import numpy as np

from ..config import SPLITS
from .raw_check import csv_files, line_chunks
from .statistics import chunked_statistics

H5_SUFFIXES = (".h5", ".hdf5")
CHUNK_ROWS = 100_000
LEGACY_KEY = "data"


def is_h5_path(path):
    return str(path).endswith(H5_SUFFIXES) or bool(_h5_parts(path))


def _h5_parts(path):
    if os.path.isdir(path):
        return sorted(p for suffix in H5_SUFFIXES for p in glob.glob(os.path.join(path, "*" + suffix)))
    return []


def h5_parts(data_path):
    """The h5 files of a split: the file itself, ``X.h5``, or the block files of a folder."""
    for candidate in (data_path, data_path + ".h5"):
        if os.path.isfile(candidate):
            return [candidate]
        parts = _h5_parts(candidate)
        if parts:
            return parts
    raise ValueError(f"h5 data {data_path!r} not found (expected a .h5 file or a folder of .h5 blocks)")


# ---------------------------------------------------------------- building from csv

def build_h5_dataset(processor, params, chunk_rows=CHUNK_ROWS):
    """Fit ``processor`` on the train csv and write ``<split>.h5`` for every split given.

    Returns ``{split: h5 path}``. The csv files are expected to have passed
    :func:`fuxictr_ssr.data.raw_check.check_raw_splits`.
    """
    sep = params.get("sep", ",")
    sources = {split: csv_files(params[f"{split}_data"]) for split in SPLITS if params.get(f"{split}_data")}

    unsupported = [f"{column['name']} ({column.get('category_processor') or column['type']})"
                   for column in processor.feature_cols
                   if column.get("active", True) and (column["type"] == "embedding" or column.get("category_processor"))]
    if unsupported:
        raise ValueError(f"feature_cols: the h5 path does not encode {unsupported}; use data_format: csv")
    logging.info("Fitting the feature processor on %s", sources["train"])
    fit_params = {k: v for k, v in params.items() if k in ("min_categr_count", "num_buckets")}
    fit_in_chunks(processor, sources["train"], sep, fit_params)
    os.remove(processor.json_file)  # re-written once every split is stored

    written = {}
    for split, files in sources.items():
        written[split] = os.path.join(processor.data_dir, f"{split}.h5")
        write_split(processor, files, written[split], sep, chunk_rows)
    processor.feature_map.save(processor.json_file)
    return written


def fit_in_chunks(processor, files, sep, fit_params):
    """fuxictr's ``fit``, with its statistics counted chunk by chunk
    (:func:`~fuxictr_ssr.data.statistics.chunked_statistics`: memory grows with the vocabulary, not
    with the rows). fuxictr 2.3.9 has no statistics pass (it fits column by column) and fits as is.
    The statistics are handed over once and the override removes itself, so the fitted processor
    pickles as fuxictr's does."""
    train = _preprocessed(processor, files, sep)  # lazy: read only by fuxictr 2.3.9
    if getattr(processor, "_collect_statistics", None) is not None:
        statistics = chunked_statistics(processor, files, sep, min_categr_count=fit_params.get("min_categr_count", 1))

        def counted(train_ddf, meta_ddf=None):
            del processor._collect_statistics
            return statistics

        processor._collect_statistics = counted
    processor.fit(train, rebuild_dataset=True, **fit_params)


def _preprocessed(processor, files, sep):
    import polars as pl
    frames = [processor.read_data(path, data_format="csv", sep=sep) for path in files]
    return processor.preprocess(pl.concat(frames) if len(frames) > 1 else frames[0])


def csv_chunks(path, sep, dtypes, chunk_rows):
    """The rows of a csv file (with a header line) as polars frames of ``chunk_rows`` rows
    (:func:`~fuxictr_ssr.data.raw_check.line_chunks`: memory holds one chunk)."""
    import polars as pl
    overrides = None
    for _, header, body in line_chunks(path, chunk_rows):
        if overrides is None:  # one header per file
            # only the file's own columns: polars 1.34 applies a dict naming an absent column (an
            # unlabelled file's label) to the wrong columns
            names = pl.read_csv(io.BytesIO(header), separator=sep, n_rows=0).columns
            overrides = {name: dtype for name, dtype in dtypes.items() if name in names}
        yield pl.read_csv(io.BytesIO(header + body), separator=sep, schema_overrides=overrides)


def write_split(processor, files, out_path, sep=",", chunk_rows=CHUNK_ROWS):
    """Encode ``files`` chunk by chunk into ``out_path`` (written as ``.tmp``, renamed when done)."""
    tmp_path = out_path + ".tmp"
    rows = 0
    with h5py.File(tmp_path, "w") as store:
        for path in files:
            for raw in csv_chunks(path, sep, processor.dtype_dict, chunk_rows):
                chunk = processor.preprocess(raw.lazy()).collect()
                columns = encode_chunk(processor, chunk.to_pandas())
                _append(store, columns)
                rows += len(chunk)
        if rows == 0:
            raise ValueError(f"{', '.join(files)}: the split has no rows")
    os.replace(tmp_path, out_path)
    logging.info("Stored %d rows in %s", rows, out_path)


def encode_chunk(processor, frame):
    """fuxictr's encoding of one preprocessed chunk, as ``{column: array}`` in narrow dtypes.

    Categorical ids use the fitted tokenizer's vocabulary (unknown -> its OOV index) through one
    vectorised lookup; sequences, numerics and meta columns go through fuxictr's own code.
    """
    encoded = {}
    for name, spec in processor.feature_map.features.items():
        tokenizer = processor.processor_dict.get(name + "::tokenizer")
        values = frame[name]
        if spec["type"] == "categorical":
            oov = tokenizer.vocab["__OOV__"]
            encoded[name] = values.map(tokenizer.vocab).fillna(oov).to_numpy(dtype=np.int32)
        elif spec["type"] == "sequence":
            encoded[name] = np.asarray(tokenizer.encode_sequence(values), dtype=np.int32)
        elif spec["type"] == "meta":
            codes = tokenizer.encode_category(values) if tokenizer is not None else values
            encoded[name] = np.asarray(codes, dtype=np.int32)
        else:  # numeric
            normalizer = processor.processor_dict.get(name + "::normalizer")
            column = values.to_numpy(dtype=np.float64)
            encoded[name] = np.asarray(normalizer.transform(column) if normalizer else column, dtype=np.float32)
    for name in processor.feature_map.labels:
        encoded[name] = frame[name].to_numpy(dtype=np.float32)  # checked by check_raw_splits
    return encoded


def check_labels(labels, source, name):
    if np.isnan(labels).any():
        raise ValueError(f"{source}: label column {name!r} has {int(np.isnan(labels).sum())} missing values")
    bad = ~np.isin(labels, (0.0, 1.0))
    if bad.any():
        raise ValueError(f"{source}: label column {name!r} must be 0 or 1; found {np.unique(labels[bad])[:5].tolist()}")
    return labels


def check_label_columns(columns, source, labels):
    """:func:`check_labels` for every label column of ``columns`` (a dict of arrays read from ``source``)."""
    for name in labels:
        check_labels(columns[name].astype(np.float64), source, name)


def check_ids_in_vocabulary(columns, source, feature_map):
    """An id at or past its feature's ``vocab_size`` would index beyond the embedding table (an
    IndexError deep in the model): name the column and the two numbers instead."""
    for name, values in columns.items():
        spec = feature_map.features.get(name)
        if spec is None or spec["type"] not in ("categorical", "sequence") or "vocab_size" not in spec or not values.size:
            continue
        low, high = int(values.min()), int(values.max())
        if low < 0 or high >= spec["vocab_size"]:
            raise ValueError(f"{source}: column {name!r} holds id {high if high >= spec['vocab_size'] else low}, "
                             f"outside [0, {spec['vocab_size']}) of its feature map's vocab_size; the data and "
                             "feature_map.json do not belong together (rebuild: delete feature_map.json in the data folder)")


def _append(store, columns):
    for name, values in columns.items():
        if name not in store:
            store.create_dataset(name, shape=(0,) + values.shape[1:], maxshape=(None,) + values.shape[1:],
                                 dtype=values.dtype, chunks=(max(1, min(len(values), 65536)),) + values.shape[1:])
        dataset = store[name]
        start = dataset.shape[0]
        dataset.resize(start + len(values), axis=0)
        dataset[start:] = values


# ---------------------------------------------------------------- reading

def open_h5(path):
    try:
        return h5py.File(path, "r")
    except OSError as error:
        raise ValueError(f"{path}: not a readable h5 file ({error}); rebuild it (delete feature_map.json "
                         "in its data folder) or fetch it again") from None


def check_h5_columns(path, store, feature_map):
    expected = list(feature_map.features) + list(feature_map.labels)
    missing = [c for c in expected if c not in store]
    extra = [c for c in store if c not in expected]
    if missing or extra:
        raise ValueError(f"{path}: columns do not match feature_map.json"
                         + (f"; missing {missing}" if missing else "")
                         + (f"; not in the feature map {extra}" if extra else ""))
    lengths = {c: store[c].shape[0] for c in expected}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"{path}: columns have different lengths {lengths} (truncated file?)")


def read_h5_rows(path, columns, feature_map, start=0, stop=None):
    """Rows ``[start, stop)`` of ``columns`` from an h5 file in any supported layout."""
    with open_h5(path) as store:
        try:
            if LEGACY_KEY in store and LEGACY_KEY not in feature_map.features:
                data = store[LEGACY_KEY][start:stop]
                return {c: _legacy_column(data, feature_map, c) for c in columns}
            check_h5_columns(path, store, feature_map)
            return {c: store[c][start:stop] for c in columns}
        except OSError as error:  # a truncated file opens but fails on read
            raise ValueError(f"{path}: cannot read rows {start}-{stop} ({error}); the file is damaged") from None


def _legacy_column(data, feature_map, name):
    index = feature_map.column_index[name]
    values = data[:, index] if isinstance(index, int) else data[:, index[0]:index[-1] + 1]
    spec = feature_map.features.get(name)
    if spec is not None and spec["type"] in ("categorical", "sequence", "meta"):
        return values.astype(np.int64)
    return values.astype(np.float32)


def load_feature_map(feature_map, json_file, params):
    """``FeatureMap.load`` that also reads FuxiCTR 1.x's ``feature_map.json`` (``feature_specs``,
    no ``labels``: the label is ``label_col`` and sits after the last feature column)."""
    with open(json_file) as handle:
        content = json.load(handle, object_pairs_hook=OrderedDict)
    if "features" in content:
        feature_map.load(json_file, params)
        return feature_map
    if "feature_specs" not in content:
        raise ValueError(f"{json_file}: neither 'features' (FuxiCTR 2.x) nor 'feature_specs' (1.x) found")
    if content.get("dataset_id") != feature_map.dataset_id:
        raise ValueError(f"{json_file}: dataset_id {content.get('dataset_id')!r} does not match "
                         f"{feature_map.dataset_id!r}")
    specs = content["feature_specs"]
    if isinstance(specs, list):
        specs = OrderedDict((k, v) for item in specs for k, v in item.items())
    label = params["label_col"]
    feature_map.labels = [c["name"] for c in (label if isinstance(label, list) else [label])]
    feature_map.default_emb_dim = params.get("embedding_dim")
    feature_map.features = OrderedDict((name, {k: v for k, v in spec.items() if k != "index"})
                                       for name, spec in specs.items())
    feature_map.total_features = content.get("num_features", 0)
    feature_map.num_fields = feature_map.get_num_fields()
    feature_map.set_column_index()
    for name, spec in specs.items():  # 1.2 records each feature's columns; trust them over order
        if "index" in spec:
            feature_map.column_index[name] = spec["index"]
    return feature_map


def column_bytes(paths):
    """On-disk-equivalent bytes of all columns (rows x itemsize), the reference for memory use."""
    total = 0
    for path in paths:
        with open_h5(path) as store:
            total += sum(store[name].size * store[name].dtype.itemsize for name in store)
    return total
