"""MovieLens-100K as a CTR dataset: GroupLens's ``ml-100k`` folder (``u.data``, ``u.user``,
``u.item``) to the ``train/valid/test.csv`` of ``benchmark_configs/MovieLens100K``.

* Label: rating > 3 is a click (1), rating <= 2 is not (0); ratings of 3 are dropped.
* Features: ``user_id``, ``item_id``, the user's ``age``, ``gender``, ``occupation`` and
  ``zip_prefix`` (the zip code's first 3 characters), the movie's ``release_year`` (empty when
  unknown) and ``genres``, every genre flag of the movie, joined with ``^`` (a sequence feature:
  up to 6 genres a movie).
* Split: a random 8:1:1 of the kept ratings, drawn with ``numpy.random.RandomState(2021)``
  (stable across numpy releases), each split written in ``u.data`` order.

The inputs are checked before anything is written: each file's columns used here hash to a
known md5 (the columns rather than the bytes, so a copy that changed titles' encoding, separators,
line endings or added a header still matches when its ratings, users and movies are the same).
"""
import hashlib
import os

import numpy as np

SPLIT_SEED = 2021
GENRES = ["unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary", "Drama",
          "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western"]
COLUMNS = ["label", "user_id", "item_id", "age", "gender", "occupation", "zip_prefix", "release_year", "genres"]
# md5 of the used columns of GroupLens's ml-100k files (see column_digest)
# (for u.data, whose every column is used, that is the file's own md5)
INPUT_MD5 = {"u.data": "6e47046882bad158b0efbb84cd5cb987", "u.user": "6fba35b67a6a9e8688af25d33a0b3fbe",
             "u.item": "ab4e865370fc84ba74e5ff7a442cbcd2"}
# md5 of the train.csv written from GroupLens's files: the split of results/MovieLens100K
TRAIN_MD5 = "9707be62d1884ba0a23934a151feb2e3"
LAYOUT = {"u.data": ("\t", 4), "u.user": ("|", 5), "u.item": ("|", 5 + len(GENRES))}
USED = {"u.data": [0, 1, 2, 3], "u.user": [0, 1, 2, 3, 4], "u.item": [0, 2] + list(range(5, 5 + len(GENRES)))}


def read_table(source, name):
    """The rows of ``source/name`` as lists of cells; a header line (a non-numeric first cell) is
    skipped; a row with the wrong number of columns is named."""
    path = os.path.join(source, name)
    if not os.path.isfile(path):
        raise ValueError(f"source: {name} not found in {source!r} (expected GroupLens's ml-100k folder: "
                         "u.data, u.user, u.item)")
    separator, width = LAYOUT[name]
    rows = []
    with open(path, encoding="latin-1") as handle:  # GroupLens's titles are Latin-1; no used column has non-ASCII
        for number, line in enumerate(handle, start=1):
            line = line.rstrip("\r\n")
            cells = line.split(separator) if separator in line else line.split("|")  # some copies use pipes
            if not line.strip() or (number == 1 and not cells[0].strip().isdigit()):
                continue
            if len(cells) != width:
                raise ValueError(f"{path}, line {number}: expected {width} {separator!r}-separated columns, got {len(cells)}")
            rows.append(cells)
    if not rows:
        raise ValueError(f"{path}: no rows")
    return rows


def column_digest(name, rows):
    """md5 of the used columns of ``rows``, one tab-joined line each."""
    digest = hashlib.md5()
    for cells in rows:
        digest.update(("\t".join(cells[i].strip() for i in USED[name]) + "\n").encode())
    return digest.hexdigest()


def read_inputs(source, verify_md5=True):
    """``{file name: rows}`` of the three files, each checked against :data:`INPUT_MD5`."""
    tables = {name: read_table(source, name) for name in LAYOUT}
    for name, rows in tables.items():
        actual = column_digest(name, rows)
        if verify_md5 and actual != INPUT_MD5[name]:
            raise ValueError(f"{os.path.join(source, name)}: its used columns have md5 {actual}, not GroupLens "
                             f"ml-100k's {INPUT_MD5[name]} (another MovieLens release or a changed copy); "
                             "--no-verify goes on with it")
    return tables


def ctr_rows(tables):
    """``(labels, csv lines)`` of the kept ratings in ``u.data`` order, features joined in."""
    users = {cells[0]: cells for cells in tables["u.user"]}
    items = {cells[0]: cells for cells in tables["u.item"]}
    labels, lines = [], []
    for number, (user, item, rating, _) in enumerate(tables["u.data"], start=1):
        if rating not in ("1", "2", "4", "5"):
            if rating != "3":
                raise ValueError(f"u.data, row {number}: rating must be 1-5, got {rating!r}")
            continue
        if user not in users or item not in items:
            missing = f"user {user} (u.user)" if user not in users else f"item {item} (u.item)"
            raise ValueError(f"u.data, row {number}: {missing} not found")
        _, age, gender, occupation, zip_code = users[user]
        movie = items[item]
        year = movie[2].strip()[-4:] if movie[2].strip() else ""
        genres = "^".join(genre for genre, flag in zip(GENRES, movie[5:]) if flag.strip() == "1")
        label = int(rating in ("4", "5"))
        labels.append(label)
        lines.append(",".join([str(label), user, item, age, gender, occupation, zip_code.strip()[:3].upper(),
                               year, genres]) + "\n")
    return labels, lines


def split_assignment(num_rows, seed=SPLIT_SEED):
    """0 = train, 1 = valid, 2 = test for each row: a seeded random 8:1:1."""
    order = np.random.RandomState(seed).permutation(num_rows)
    n_train, n_valid = int(round(0.8 * num_rows)), int(round(0.1 * num_rows))
    assignment = np.zeros(num_rows, dtype=np.int8)
    assignment[order[n_train:n_train + n_valid]] = 1
    assignment[order[n_train + n_valid:]] = 2
    return assignment


def ctr_splits(source, verify_md5=True):
    """``{"train" | "valid" | "test": csv lines}`` (header :data:`COLUMNS`), each in ``u.data`` order."""
    _, lines = ctr_rows(read_inputs(source, verify_md5))
    assignment = split_assignment(len(lines))
    return {split: [line for line, where in zip(lines, assignment) if where == code]
            for code, split in enumerate(("train", "valid", "test"))}
