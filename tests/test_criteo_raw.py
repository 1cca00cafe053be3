"""The generated raw Criteo file: Kaggle's layout, deterministic by seed, distinct counts as planned."""
import json

import numpy as np
import pytest

from fuxictr_ssr.data.criteo_raw import (CHUNK_ROWS, KAGGLE_CARDINALITIES, KAGGLE_ROWS, RawCriteoSpec, expected_distinct,
                                         write_raw_criteo)


def read_rows(path):
    return [line.split("\t") for line in open(path).read().splitlines()]


def test_the_layout_is_kaggles_and_the_same_seed_writes_the_same_file(tmp_path):
    first = write_raw_criteo(RawCriteoSpec(num_rows=3000, seed=5), str(tmp_path / "a" / "train.txt"))
    again = write_raw_criteo(RawCriteoSpec(num_rows=3000, seed=5), str(tmp_path / "b" / "train.txt"))
    other = write_raw_criteo(RawCriteoSpec(num_rows=3000, seed=6), str(tmp_path / "c" / "train.txt"))
    assert open(first, "rb").read() == open(again, "rb").read() != open(other, "rb").read()
    rows = read_rows(first)
    assert len(rows) == 3000 and {len(row) for row in rows} == {40}
    assert {row[0] for row in rows} == {"0", "1"}
    numeric = [cell for row in rows for cell in row[1:14]]
    assert all(cell == "" or cell.isdigit() for cell in numeric) and "" in numeric
    categorical = [cell for row in rows for cell in row[14:]]
    assert all(cell == "" or (len(cell) == 8 and int(cell, 16) >= 0) for cell in categorical) and "" in categorical
    teacher = json.load(open(first + ".spec.json"))
    assert teacher["spec"]["num_rows"] == 3000 and len(teacher["informative_fields"]) == 8


def test_distinct_values_follow_the_plan_and_reach_kaggles_at_full_size(tmp_path):
    rows = CHUNK_ROWS // 10  # one chunk
    path = write_raw_criteo(RawCriteoSpec(num_rows=rows), str(tmp_path / "train.txt"))
    columns = list(zip(*read_rows(path)))
    expected = expected_distinct(rows)
    for index, name in enumerate(KAGGLE_CARDINALITIES):
        seen = len(set(columns[14 + index]) - {""})
        assert seen == pytest.approx(expected[name], rel=0.03, abs=3), name
    assert expected_distinct(KAGGLE_ROWS) == pytest.approx(KAGGLE_CARDINALITIES, rel=1e-4)
    labels = np.array(columns[0], dtype=int)
    assert 0.22 < labels.mean() < 0.29  # Kaggle's click rate is 0.256


def test_a_row_count_beyond_the_kaggle_file_is_named():
    with pytest.raises(ValueError, match="--rows: expected an integer in 1..45,840,617"):
        RawCriteoSpec(num_rows=KAGGLE_ROWS + 1)
