"""``fuxictr-ssr data prepare``: write the csvs a benchmark folder expects from what users have.

Inputs understood, by dataset:

* BARS x1 datasets: reczoo's ``train/valid/test.csv`` (checked against the published md5s, then
  linked or copied), or AFN/NFM-style libsvm files, plain or gzipped (``<split>*.libsvm[.gz]``):
  each token ``index:value`` becomes the field's categorical value ``index`` (for Criteo's
  I1-I13, the ``value``).
* Criteo_x4_001: the raw Kaggle ``train.txt`` (tab-separated, no header, 40 columns).
* Avazu_x4_001: the raw Kaggle ``train.csv`` (with header).
  Both x4 sources are shuffled with seed 2018 and split 8:1:1; the x4 feature engineering (numeric
  bucketing, hour -> hour/weekday/weekend) happens in the benchmark's feature processor.
* Criteo_paper, Avazu_paper (the SSR paper's protocol): the same raw files, the same random 8:1:1
  split (the paper's seed is not published).
"""
import csv
import glob
import gzip
import hashlib
import os
import shutil
import zlib
from contextlib import contextmanager

import numpy as np
import pandas as pd

from ..config import SPLITS
from .bars import find_dataset

X4_SPLIT_SEED = 2018


def md5sum(path, chunk_size=1 << 20):
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(chunk_size), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _find_split_file(source, split, patterns):
    matches = sorted({path for pattern in patterns for path in glob.glob(os.path.join(source, pattern.format(split=split)))})
    if len(matches) > 1:
        raise ValueError(f"source: several {split} files in {source!r}: {', '.join(map(os.path.basename, matches))}")
    return matches[0] if matches else None


@contextmanager
def _named_if_damaged(path):
    try:
        yield
    except (EOFError, gzip.BadGzipFile, zlib.error) as error:
        raise ValueError(f"{path}: the compressed file is truncated or damaged ({error}); download it again") from None


@contextmanager
def _written_whole(path):
    """Write ``path`` through ``path.tmp``, renamed only when complete: a failed or killed
    conversion never leaves a partial csv that a later run would take for the data."""
    tmp_path = path + ".tmp"
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        if os.path.exists(tmp_path):
            os.remove(tmp_path)


def _open_text(path):
    return gzip.open(path, "rt") if path.endswith(".gz") else open(path)


def libsvm_to_csv(source_path, out_path, fields, value_fields=()):
    """Convert one libsvm file (``label idx:val ...``, one token per field) to a csv with header."""
    keep_value = [name in value_fields for name in fields]
    with _named_if_damaged(source_path), _written_whole(out_path) as tmp_path, \
            _open_text(source_path) as reader, open(tmp_path, "w", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["label"] + fields)
        for line_number, line in enumerate(reader, start=1):
            tokens = line.split()
            if not tokens:
                continue
            if len(tokens) != len(fields) + 1:
                raise ValueError(f"{source_path}, line {line_number}: expected a label and {len(fields)} "
                                 f"'index:value' tokens ({', '.join(fields)}), got {len(tokens)} tokens")
            try:
                pairs = [token.split(":", 1) for token in tokens[1:]]
                row = [pair[1] if value else pair[0] for pair, value in zip(pairs, keep_value)]
            except IndexError:
                raise ValueError(f"{source_path}, line {line_number}: a token lacks the ':' of 'index:value'") from None
            writer.writerow([tokens[0]] + row)


def _prepare_x1(dataset, source, out, verify_md5, copy):
    if os.path.isfile(source):
        raise ValueError(f"source: {source!r} is a file; {dataset.name} needs the folder of BARS's train/valid/test "
                         f"files ({dataset.reference}). From the raw Kaggle files, prepare the x4 or paper-protocol "
                         "dataset instead (README: 'From the raw Kaggle files')")
    found = {}
    for split in SPLITS:  # every split found before anything is written
        csv_path = _find_split_file(source, split, ["{split}.csv"])
        libsvm_path = _find_split_file(source, split, ["{split}*.libsvm", "{split}*.libsvm.gz"])
        if not (csv_path or libsvm_path):
            raise ValueError(f"source: no {split}.csv or {split}*.libsvm[.gz] in {source!r} "
                             f"(BARS {dataset.name}: {dataset.reference})")
        if not csv_path and not dataset.fields:
            raise ValueError(f"{dataset.name}: no libsvm layout is known; use reczoo's csv files")
        found[split] = (csv_path, libsvm_path)
    os.makedirs(out, exist_ok=True)
    written = {}
    for split, (csv_path, libsvm_path) in found.items():
        target = os.path.join(out, f"{split}.csv")
        if csv_path:
            if verify_md5 and dataset.md5:
                actual = md5sum(csv_path)
                if actual != dataset.md5[split]:
                    raise ValueError(f"{csv_path}: md5 {actual} differs from the published {dataset.name} "
                                     f"{split} md5 {dataset.md5[split]} (a partial or different download? "
                                     "--no-verify skips this check)")
            if os.path.abspath(csv_path) != os.path.abspath(target):
                if os.path.lexists(target):
                    os.remove(target)
                if copy:
                    shutil.copyfile(csv_path, target)
                else:
                    os.symlink(os.path.abspath(csv_path), target)
        else:
            libsvm_to_csv(libsvm_path, target, dataset.fields, dataset.libsvm_value_fields)
        written[split] = target
    return written


def _split_8_1_1(frame, out):
    os.makedirs(out, exist_ok=True)
    order = np.random.default_rng(X4_SPLIT_SEED).permutation(len(frame))
    n_train, n_valid = int(len(frame) * 0.8), int(len(frame) * 0.1)
    bounds = {"train": order[:n_train], "valid": order[n_train:n_train + n_valid],
              "test": order[n_train + n_valid:]}
    written = {}
    for split, rows in bounds.items():
        written[split] = os.path.join(out, f"{split}.csv")
        with _written_whole(written[split]) as tmp_path:
            frame.iloc[np.sort(rows)].to_csv(tmp_path, index=False)
    return written


def _single_source_file(source, patterns, what):
    if os.path.isfile(source):
        return source
    matches = sorted({p for pattern in patterns for p in glob.glob(os.path.join(source, pattern))})
    if len(matches) != 1:
        found = ", ".join(map(os.path.basename, matches)) or "none"
        raise ValueError(f"source: expected one {what} in {source!r} ({' or '.join(patterns)}), found {found}")
    return matches[0]


def _prepare_criteo_raw(dataset, source, out):
    path = _single_source_file(source, ["train*.txt", "train*.txt.gz"], "raw Criteo file")
    with _named_if_damaged(path):
        frame = pd.read_csv(path, sep="\t", header=None, dtype=str, keep_default_na=False)
    if frame.shape[1] != len(dataset.fields):
        raise ValueError(f"{path}: expected {len(dataset.fields)} tab-separated columns "
                         f"(label, I1-I13, C1-C26), got {frame.shape[1]}")
    frame.columns = dataset.fields
    if not frame["label"].isin(["0", "1"]).all():
        bad = frame.index[~frame["label"].isin(["0", "1"])][0]
        raise ValueError(f"{path}, row {bad + 1}: column label must be 0 or 1, got {frame['label'][bad]!r}")
    return _split_8_1_1(frame, out)


def _prepare_avazu_raw(dataset, source, out):
    path = _single_source_file(source, ["train*.csv", "train*.csv.gz"], "raw Avazu csv")
    with _named_if_damaged(path):
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = [column for column in dataset.fields if column not in frame.columns]
    if missing:
        raise ValueError(f"{path}: missing columns {', '.join(missing)} (expected the Kaggle Avazu header)")
    return _split_8_1_1(frame[dataset.fields], out)


def prepare(name, source, out, verify_md5=True, copy=False):
    """Write ``train/valid/test.csv`` for dataset ``name`` into ``out``; return their paths."""
    dataset = find_dataset(name)
    if not os.path.exists(source):
        raise ValueError(f"source: {source!r} does not exist")
    if dataset.source == "x1":
        return _prepare_x1(dataset, source, out, verify_md5, copy)
    if dataset.source == "criteo_raw":
        return _prepare_criteo_raw(dataset, source, out)
    return _prepare_avazu_raw(dataset, source, out)
