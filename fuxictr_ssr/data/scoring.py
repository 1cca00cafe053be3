"""Raw rows to model inputs for scoring: csv or parquet files read in chunks and encoded by the
feature processor fitted when the training data was built (its vocabularies, OOV ids and
normalisers), exactly as the h5 build encodes a split (:func:`~fuxictr_ssr.data.h5_store.encode_chunk`).

A file is checked before any row is scored (:func:`check_scoring_file`): its format, and that it
has every raw column the features are made from. The label column is optional; category values
never seen in training are not errors (they get the feature's OOV id, as in training).
"""
import csv
import os

import numpy as np
import polars as pl

from .h5_store import csv_chunks, encode_chunk
from .raw_check import check_plain_csv, required_raw_columns

SCORING_FORMATS = (".csv", ".parquet")
CHUNK_ROWS = 100_000


def file_format(path, key="--data"):
    """``.csv`` or ``.parquet`` by the file's suffix; ``ValueError`` naming the file otherwise."""
    check_plain_csv(path, key)
    suffix = os.path.splitext(path)[1].lower()
    if suffix not in SCORING_FORMATS:
        raise ValueError(f"{key}: {path!r} is neither csv nor parquet (expected a .csv or .parquet file)")
    return suffix


def file_columns(path, sep=","):
    """The column names of a csv header or a parquet schema; ``ValueError`` for an unreadable file."""
    if not os.path.isfile(path):
        raise ValueError(f"--data: {path!r} does not exist")
    suffix = file_format(path)
    try:
        if suffix == ".parquet":
            import pyarrow.parquet as pq
            return list(pq.ParquetFile(path).schema_arrow.names)
        with open(path, newline="", encoding="utf-8") as handle:  # the header alone (polars would read far more)
            return next(csv.reader([handle.readline()], delimiter=sep), [])
    except (OSError, pl.exceptions.PolarsError, ValueError) as error:  # UnicodeDecodeError is a ValueError
        raise ValueError(f"--data: {path!r} cannot be read as {suffix[1:]} ({type(error).__name__}: "
                         f"{str(error).splitlines()[0] if str(error) else ''})") from None


def check_encodable(processor):
    """The encodings :func:`encode_chunk` reproduces; others are named (as the h5 build does)."""
    unsupported = [f"{col['name']} ({col.get('category_processor') or col['type']})" for col in processor.feature_cols
                   if col.get("active", True) and (col["type"] == "embedding" or col.get("category_processor"))]
    if unsupported:
        raise ValueError(f"feature_cols: scoring raw rows does not encode {unsupported}")


def check_scoring_file(path, processor, keep_columns=(), sep=","):
    """Raise ``ValueError`` naming the file and the missing columns unless ``path`` can be scored;
    return whether it has every label column (so its scores can be evaluated)."""
    columns = set(file_columns(path, sep))
    missing = [name for name in required_raw_columns(processor.feature_cols, []) if name not in columns]
    if missing:
        raise ValueError(f"--data: {path!r} has no column {', '.join(map(repr, missing))}, which the model's features "
                         f"are made from (its columns: {', '.join(sorted(columns))})")
    absent = [name for name in keep_columns if name not in columns]
    if absent:
        raise ValueError(f"--keep-columns: {path!r} has no column {', '.join(map(repr, absent))}")
    return all(col["name"] in columns for col in processor.label_cols)


def raw_chunks(path, processor, keep_columns=(), sep=",", chunk_rows=CHUNK_ROWS):
    """The rows of a csv or parquet file as polars frames of at most ``chunk_rows`` rows, the
    feature columns in the processor's dtypes and the kept ones as read (as text from csv)."""
    try:
        if file_format(path) == ".csv":
            dtypes = {**{name: pl.String for name in keep_columns}, **processor.dtype_dict}
            yield from csv_chunks(path, sep, dtypes, chunk_rows)
            return
        import pyarrow.parquet as pq
        for batch in pq.ParquetFile(path).iter_batches(batch_size=chunk_rows):
            frame = pl.from_arrow(batch)
            yield frame.with_columns(pl.col(name).cast(dtype) for name, dtype in processor.dtype_dict.items()
                                     if name in frame.columns)
    except pl.exceptions.PolarsError as error:  # a value that is not of its column's dtype, say
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ValueError(f"--data: {path!r}: a value does not read as its column's dtype ({first}); no scores "
                         "were kept") from None


def encode_rows(processor, raw):
    """``(features, labels)`` of one raw chunk: ``{feature: array}`` in the model's input dtypes
    (int64 ids, float32 numerics) and the label array, or None when the chunk has no label."""
    labels = [col["name"] for col in processor.label_cols]
    has_labels = all(name in raw.columns for name in labels)
    raw = raw.with_columns(pl.lit(None, dtype=pl.Float64).alias(name) for name in labels if name not in raw.columns)
    encoded = encode_chunk(processor, processor.preprocess(raw.lazy()).collect().to_pandas())
    features = {name: values.astype(np.int64) if values.dtype.kind in "iu" else values
                for name, values in encoded.items() if name not in labels}
    return features, (encoded[labels[0]] if has_labels and labels else None)
