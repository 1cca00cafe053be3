"""``fuxictr-ssr data prepare``: write the csvs a benchmark folder expects from what users have.

Inputs understood, by dataset:

* BARS x1 datasets: reczoo's ``train/valid/test.csv`` (checked against the published md5s, then
  linked or copied), or AFN/NFM-style libsvm files, plain or gzipped (``<split>*.libsvm[.gz]``):
  each token ``index:value`` becomes the field's categorical value ``index`` (for Criteo's
  I1-I13, the ``value``).
* Criteo_x4_001: the raw Kaggle ``train.txt`` (tab-separated, no header, 40 columns).
* Avazu_x4_001: the raw Kaggle ``train.csv`` (with header).
  Both x4 sources are split 8:1:1 by BARS's rule (:func:`stratified_folds`), streamed with bounded
  memory, and the written train csv is compared with reczoo's published md5; the x4 feature
  engineering (numeric bucketing, hour -> hour/weekday/weekend) happens in the benchmark's feature
  processor.
* Criteo_paper, Avazu_paper (the SSR paper's protocol): the same raw files, the same 8:1:1
  split (the paper's own seed is not published).
* MovieLens100K: GroupLens's ``ml-100k`` folder (:mod:`fuxictr_ssr.data.movielens`).
"""
import csv
import glob
import gzip
import hashlib
import os
import re
import shutil
import zlib
from contextlib import ExitStack, contextmanager

import numpy as np

from ..config import SPLITS
from . import movielens
from .bars import find_dataset

X4_SPLIT_SEED = 2018
# md5 of reczoo's x4 train.csv (their split script checks it); the paper-protocol files are the x4 ones
X4_TRAIN_MD5 = {"Criteo_x4_001": "4a53bb7cbc0e4ee25f9d6a73ed824b1a", "Criteo_paper": "4a53bb7cbc0e4ee25f9d6a73ed824b1a",
                "Avazu_x4_001": "de3a27264cdabf66adf09df82328ccaa", "Avazu_paper": "de3a27264cdabf66adf09df82328ccaa"}


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
def _named_if_damaged(path, where=lambda: ""):
    """A damaged compressed file or bytes that are not text, named with the file (and, through
    ``where``, the line being read) instead of a decoder's traceback."""
    try:
        yield
    except (EOFError, gzip.BadGzipFile, zlib.error) as error:
        raise ValueError(f"{path}: the compressed file is truncated or damaged ({error}); download it again") from None
    except UnicodeDecodeError as error:
        raise ValueError(f"{path}{where()}: not UTF-8 text ({error.reason} at byte {error.start} of the block read); "
                         "a binary or damaged file?") from None


def _data_lines(handle, first_number):
    """``(line number, line without its line ending)`` of every non-blank line (CRLF or LF)."""
    for number, line in enumerate(handle, start=first_number):
        line = line.rstrip("\r\n")
        if line.strip():
            yield number, line


def _not_overwritten(source_file, out):
    """Refuse an ``--out`` whose split files would replace the source file being read."""
    for split in SPLITS:
        target = os.path.join(out, f"{split}.csv")
        if os.path.abspath(target) == os.path.abspath(source_file) or (
                os.path.exists(target) and os.path.samefile(target, source_file)):
            raise ValueError(f"--out: writing {target!r} would overwrite the source {source_file!r} being split; "
                             "choose another --out folder")


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
    keep_value, line_number = [name in value_fields for name in fields], 0
    with _named_if_damaged(source_path, lambda: f" (after line {line_number})"), _written_whole(out_path) as tmp_path, \
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


def stratified_folds(labels, n_splits=10, seed=X4_SPLIT_SEED):
    """Each row's fold under BARS's x4 rule (AutoInt's split): scikit-learn's
    ``StratifiedKFold(n_splits=10, shuffle=True, random_state=2018)`` over the labels, fold ``k``
    being the ``k``-th held-out part. Returns an int8 array, one fold per row."""
    from sklearn.model_selection import StratifiedKFold
    folds = np.empty(len(labels), dtype=np.int8)
    splitter = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    for fold, (_, held_out) in enumerate(splitter.split(np.empty((len(labels), 0)), labels)):
        folds[held_out] = fold
    return folds


def _split_x4(path, out, header, rows, labels):
    """Write BARS's x4 split of the raw file at ``path``: test = fold 0, valid = fold 1, train =
    folds 2-9 one after another, each in file order (the layout of reczoo's x4 csvs).

    ``rows(handle)`` yields each data row's csv line; ``labels`` holds every row's label. The file
    is streamed twice (labels, then rows) through one temporary file per train fold, so memory is
    about 40 bytes per row at the fold assignment (the labels and scikit-learn's index arrays;
    ``benchmarks/x4_split_memory.py``: 38 B measured, 1.6 GiB for Criteo's 45.8M rows), not the file.
    """
    folds = stratified_folds(labels)
    os.makedirs(out, exist_ok=True)
    targets = {split: os.path.join(out, f"{split}.csv") for split in ("train", "valid", "test")}
    parts = [os.path.join(out, f"train.fold{fold}.tmp") for fold in range(2, 10)]
    try:
        with ExitStack() as stack:
            test, valid = (stack.enter_context(_written_whole(targets[s])) for s in ("test", "valid"))
            sinks = [stack.enter_context(open(name, "w")) for name in (test, valid)]
            sinks += [stack.enter_context(open(part, "w")) for part in parts]
            for sink in sinks[:2]:
                sink.write(header)
            with _named_if_damaged(path), _open_text(path) as handle:
                for fold, line in zip(folds, rows(handle)):
                    sinks[fold].write(line)
        with _written_whole(targets["train"]) as tmp_path, open(tmp_path, "w") as train:
            train.write(header)
            for part in parts:
                with open(part) as handle:
                    shutil.copyfileobj(handle, train, 1 << 24)
    finally:
        for part in parts:
            if os.path.exists(part):
                os.remove(part)
    return targets


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
    _not_overwritten(path, out)
    labels, number = bytearray(), 0
    with _named_if_damaged(path, lambda: f" (after row {number})"), _open_text(path) as handle:
        for number, line in _data_lines(handle, 1):
            cells = line.split("\t")
            if len(cells) != len(dataset.fields):
                raise ValueError(f"{path}: expected {len(dataset.fields)} tab-separated columns "
                                 f"(Label, I1-I13, C1-C26), got {len(cells)} at row {number}")
            if cells[0] not in ("0", "1"):
                raise ValueError(f"{path}, row {number}: column Label must be 0 or 1, got {cells[0]!r}")
            labels.append(cells[0] == "1")
    if not labels:
        raise ValueError(f"{path}: no rows")

    def rows(handle):
        return (line.replace("\t", ",") + "\n" for _, line in _data_lines(handle, 1))

    return _split_x4(path, out, ",".join(dataset.fields) + "\n", rows, np.frombuffer(bytes(labels), dtype=np.int8))


AVAZU_HOUR = re.compile(r"\d\d(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])([01]\d|2[0-3])")  # YYMMDDHH


def _check_avazu_row(path, number, cells, width, click, hour):
    if len(cells) != width:
        raise ValueError(f"{path}, line {number}: expected {width} comma-separated columns (the header's), got "
                         f"{len(cells)} (a line cut short or joined?)")
    if cells[click] not in ("0", "1"):
        raise ValueError(f"{path}, line {number}: column click must be 0 or 1, got {cells[click]!r}")
    if not AVAZU_HOUR.fullmatch(cells[hour]):
        raise ValueError(f"{path}, line {number}: column hour must be YYMMDDHH (e.g. 14102100), got {cells[hour]!r}")


def _prepare_avazu_raw(dataset, source, out):
    path = _single_source_file(source, ["train*.csv", "train*.csv.gz"], "raw Avazu csv")
    _not_overwritten(path, out)
    number = 1
    with _named_if_damaged(path, lambda: f" (after line {number})"), _open_text(path) as handle:
        header = handle.readline().rstrip("\r\n").split(",")
        missing = [column for column in dataset.fields if column not in header]
        if missing:
            raise ValueError(f"{path}: missing columns {', '.join(missing)} (expected the Kaggle Avazu header)")
        click, hour = header.index("click"), header.index("hour")
        labels = bytearray()
        for number, line in _data_lines(handle, 2):
            cells = line.split(",")
            _check_avazu_row(path, number, cells, len(header), click, hour)
            labels.append(cells[click] == "1")
    if not labels:
        raise ValueError(f"{path}: no data rows after the header")
    keep = [header.index(column) for column in dataset.fields]

    def rows(handle):
        handle.readline()
        lines = _data_lines(handle, 2)
        if keep == list(range(len(header))):
            return (line + "\n" for _, line in lines)
        return (",".join(line.split(",")[i] for i in keep) + "\n" for _, line in lines)

    return _split_x4(path, out, ",".join(dataset.fields) + "\n", rows, np.frombuffer(bytes(labels), dtype=np.int8))


def check_published_md5(dataset, written):
    """Compare the written train csv with the md5 reczoo published for its x4 files: a message
    saying whether these are BARS's files (reczoo's split needed scikit-learn 0.19.1; later
    releases may draw other folds from the same seed)."""
    if dataset.source == "movielens100k":
        actual = md5sum(written["train"])
        return (f"train.csv md5 {actual}: " + ("the split of results/MovieLens100K, byte for byte" if actual ==
                movielens.TRAIN_MD5 else f"not the split of results/MovieLens100K ({movielens.TRAIN_MD5})"))
    expected = X4_TRAIN_MD5.get(dataset.name)
    if expected is None:
        return None
    actual = md5sum(written["train"])
    if actual == expected:
        return f"train.csv md5 {actual}: BARS's {dataset.name} files, byte for byte"
    return (f"train.csv md5 {actual} differs from BARS's published {expected}: not reczoo's files (another "
            "source file, or the same rule drawing other folds: reczoo used scikit-learn 0.19.1, later releases "
            "shuffle differently), so results on them stand beside BARS's x4 leaderboard as context only")


def prepare(name, source, out, verify_md5=True, copy=False):
    """Write ``train/valid/test.csv`` for dataset ``name`` into ``out``; return their paths."""
    dataset = find_dataset(name)
    if not os.path.exists(source):
        raise ValueError(f"source: {source!r} does not exist")
    if dataset.source == "x1":
        return _prepare_x1(dataset, source, out, verify_md5, copy)
    if dataset.source == "criteo_raw":
        return _prepare_criteo_raw(dataset, source, out)
    if dataset.source == "movielens100k":
        return _prepare_movielens(source, out, verify_md5)
    return _prepare_avazu_raw(dataset, source, out)


def _prepare_movielens(source, out, verify_md5):
    if os.path.isfile(source):
        raise ValueError(f"source: expected GroupLens's ml-100k folder (u.data, u.user, u.item), got the file {source!r}")
    for name in movielens.LAYOUT:
        _not_overwritten(os.path.join(source, name), out)
    splits = movielens.ctr_splits(source, verify_md5)
    os.makedirs(out, exist_ok=True)
    paths = {split: os.path.join(out, f"{split}.csv") for split in splits}
    for split, lines in splits.items():
        with _written_whole(paths[split]) as tmp_path, open(tmp_path, "w") as handle:
            handle.write(",".join(movielens.COLUMNS) + "\n")
            handle.writelines(lines)
    return paths
