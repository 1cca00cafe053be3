"""Checks of raw csv splits, run before anything is fitted or stored; each names key, file, line, column.

fuxictr reads raw csv through polars, which is lenient where a user wants to know and strict where a
user wants a sentence: a row with cells missing is filled with nulls without a word, text in a
numeric column or a label ``yes`` stops the build with polars' parse error, and ``inf`` or a value
beyond float32 (``1e300``) reaches the model as inf. Two passes over each file, in chunks of
:data:`CHUNK_LINES` lines (memory holds one chunk, whatever the file's size), find these first:

* every line holds as many separators as the header (lines with a quote character are skipped: a
  quoted cell may hold the separator);
* the file has rows; every label is 0 or 1 and present; every value of a numeric column is a
  number, finite in float32 (``|x| <= 3.4e38``). Empty numeric cells are fuxictr's missing values
  (``fill_na``) and pass.
"""
import glob
import io
import itertools
import os
import re
from collections import OrderedDict

import polars as pl

from ..config import SPLITS

COMPRESSED_SUFFIXES = (".gz", ".bz2", ".xz", ".zip", ".zst")
FLOAT32_MAX = 3.4028234663852886e38
_ROW = "__row"
CHUNK_LINES = 500_000


def line_chunks(path, chunk_lines=CHUNK_LINES):
    """``(number of lines before the chunk, header line, the chunk's lines joined)``, the header
    excluded from the chunks, read through a plain file handle: memory holds one chunk. (polars'
    own scan memory-maps the file, so a process reading a split of tens of GB counts all of it as
    resident.)"""
    with open(path, "rb") as handle:
        header, before = handle.readline(), 1
        while lines := list(itertools.islice(handle, chunk_lines)):
            yield before, header, b"".join(lines)
            before += len(lines)


def _first_of_chunks(path, chunk_results, tag_count):
    """Merge per-chunk ``(rows, {tag: (n, row, value)})``: total rows, and per tag the count and
    the first bad row (numbered over the whole file) with its value."""
    rows, merged = 0, {tag: [0, None, None] for tag in range(tag_count)}
    for chunk_rows, found in chunk_results:
        for tag, (count, row, value) in found.items():
            if count and merged[tag][1] is None:
                merged[tag][1:] = [row, value]
            merged[tag][0] += count
        rows += chunk_rows
    return rows, merged


def required_raw_columns(feature_cols, label_cols):
    """Columns a raw csv must have: every active column, except that a column made by a
    ``preprocess`` function needs that function's argument instead of itself."""
    required = []
    for col in list(feature_cols) + list(label_cols):
        if col.get("active", True) is False and col not in label_cols:
            continue
        for name in _names(col):
            preprocess = col.get("preprocess")
            arguments = re.split(r"[()]", preprocess)[1:-1] if preprocess else []
            required += [a.strip() for a in ",".join(arguments).split(",") if a.strip()] or [name]
    return list(OrderedDict.fromkeys(required))


def csv_files(path):
    files = sorted(glob.glob(path)) if not os.path.isdir(path) else sorted(glob.glob(os.path.join(path, "*.csv")))
    if not files:
        raise ValueError(f"raw data {path!r} not found")
    return files


def check_raw_splits(params):
    """Check every raw csv split of a dataset block; return ``{split: [csv files]}``."""
    label_cols = params["label_col"] if isinstance(params["label_col"], list) else [params["label_col"]]
    required = required_raw_columns(params["feature_cols"], label_cols)
    sources = {split: csv_files(params[f"{split}_data"]) for split in SPLITS if params.get(f"{split}_data")}
    for split, files in sources.items():
        for path in files:
            check_raw_csv(path, f"{split}_data", params["feature_cols"], label_cols, required, params.get("sep", ","))
    return sources


def check_plain_csv(path, key):
    if path.endswith(COMPRESSED_SUFFIXES):
        raise ValueError(f"{key}: {path} is compressed; raw csv is read as plain text (decompress it, "
                         "e.g. 'gunzip -k', and point the dataset config at the .csv)")


def _names(column):
    return column["name"] if isinstance(column["name"], list) else [column["name"]]


def numeric_columns(feature_cols):
    """Raw columns read as numbers: active numeric features that no ``preprocess`` function makes."""
    return [name for col in feature_cols if col.get("active", True) is not False
            and col.get("type") == "numeric" and not col.get("preprocess") for name in _names(col)]


def check_row_widths(path, key, sep, header):
    cells = pl.col("line").fill_null("").str.count_matches(sep, literal=True) + 1
    ragged = (cells != len(header)) & ~pl.col("line").fill_null("").str.contains('"', literal=True)

    def chunk_result(before, body):
        try:
            lines = pl.read_csv(io.BytesIO(body), has_header=False, separator="\x1f", quote_char=None,
                                infer_schema=False, new_columns=["line"]).with_row_index(_ROW, offset=before + 1)
        except pl.exceptions.ComputeError:
            _name_undecodable_line(path, key, before, body)
            raise
        found = lines.select(ragged.sum().alias("n"), pl.col(_ROW).filter(ragged).first().alias("row"),
                             cells.filter(ragged).first().alias("cells")).row(0, named=True)
        return len(lines), {0: (found["n"], found["row"], found["cells"])}

    _, merged = _first_of_chunks(path, (chunk_result(before, body) for before, _, body in line_chunks(path)), 1)
    count, line, width = merged[0]
    if count:
        raise ValueError(f"{key}: {path}, line {line}: {width} cells where the header has "
                         f"{len(header)} ({count} such rows; a truncated or ragged file?)")


def _name_undecodable_line(path, key, before, body):
    """Raise ``ValueError`` naming the first line of a chunk that is not UTF-8 text, if any."""
    for offset, line in enumerate(body.splitlines(), start=1):
        try:
            line.decode("utf-8")
        except UnicodeDecodeError as error:
            raise ValueError(f"{key}: {path}, line {before + offset}: not UTF-8 text ({error.reason} at byte "
                             f"{error.start}); a binary or damaged file?") from None


def _first_bad(column, bad, tag):
    return [bad.sum().alias(f"{tag}/n"), pl.col(_ROW).filter(bad).first().alias(f"{tag}/row"),
            pl.col(column).filter(bad).first().alias(f"{tag}/value")]


def check_values(path, key, sep, label_names, numeric_names):
    checks = {}  # (column, what is wrong) -> expression true on a bad cell
    for name in label_names:
        value = pl.col(name).cast(pl.Float64, strict=False)
        checks[(name, "missing labels (a label is required)")] = pl.col(name).is_null()
        checks[(name, "labels that are not 0 or 1")] = pl.col(name).is_not_null() & (
            value.is_null() | ~value.is_in([0.0, 1.0]))
    for name in numeric_names:
        value = pl.col(name).cast(pl.Float64, strict=False)
        checks[(name, "values that are not numbers (a numeric column)")] = pl.col(name).is_not_null() & value.is_null()
        checks[(name, "non-finite values (inf, nan or |x| > 3.4e38, beyond float32)")] = (
            value.is_nan() | (value.abs() > FLOAT32_MAX))
    exprs = []
    for index, ((name, _), bad) in enumerate(checks.items()):
        exprs += _first_bad(name, bad, index)

    def chunk_result(before, header, body):
        frame = pl.read_csv(io.BytesIO(header + body), separator=sep, infer_schema=False).with_row_index(
            _ROW, offset=before + 1)
        found = frame.select(exprs).row(0, named=True) if exprs else {}
        return len(frame), {i: (found[f"{i}/n"], found[f"{i}/row"], found[f"{i}/value"]) for i in range(len(checks))}

    rows, merged = _first_of_chunks(path, (chunk_result(*chunk) for chunk in line_chunks(path)), len(checks))
    if rows == 0:
        raise ValueError(f"{key}: {path} has a header but no rows")
    for index, (name, what) in enumerate(checks):
        count, line, value = merged[index]
        if count:
            raise ValueError(f"{key}: {path}, column {name!r}: {count} {what}; the first, {value!r}, at line {line}")


def check_raw_csv(path, key, feature_cols, label_cols, required, sep=","):
    """Raise ``ValueError`` for the first problem of raw csv ``path`` (the split of ``key``), whose
    header must hold the ``required`` columns."""
    check_plain_csv(path, key)
    with open(path, "rb") as handle:
        first_line = handle.readline()
    try:
        header = first_line.decode("utf-8").rstrip("\r\n").split(sep)
    except UnicodeDecodeError as error:
        raise ValueError(f"{key}: {path}, line 1 (the header): not UTF-8 text ({error.reason}); a binary or "
                         "damaged file?") from None
    missing = [c for c in required if c not in header]
    if missing:
        raise ValueError(f"{key}: {path}: missing columns {missing} (the dataset config's feature_cols/label_col "
                         f"need them; the header has {header})")
    check_row_widths(path, key, sep, header)
    labels = [name for col in label_cols for name in _names(col)]
    check_values(path, key, sep, labels, [name for name in numeric_columns(feature_cols) if name in header])
