"""The h5 data path: csv -> h5 equals fuxictr's encoding, seeded shuffles are permutations, older
FuxiCTR layouts load, and every bad input stops with the file and column named."""
import inspect
import json
import os
from collections import OrderedDict

import h5py
import numpy as np
import pandas as pd
import pytest
import torch
from fuxictr.features import FeatureMap
from fuxictr.preprocess import FeatureProcessor

from fuxictr_ssr.data import ColumnarDataLoader, StreamingH5Loader
from fuxictr_ssr.data.h5_store import build_h5_dataset, load_feature_map
from fuxictr_ssr.data.raw_check import check_raw_splits, required_raw_columns

FEATURE_COLS = [
    {"name": ["c1", "c2"], "active": True, "dtype": "str", "type": "categorical"},
    {"name": "n1", "active": True, "dtype": "float", "type": "numeric", "normalizer": "StandardScaler"},
    {"name": "n2", "active": True, "dtype": "float", "type": "numeric"},
    {"name": "s1", "active": True, "dtype": "str", "type": "sequence", "splitter": "^", "max_len": 4},
]
LABEL_COL = {"name": "label", "dtype": "float"}


def raw_frame(rows, seed):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "c1": rng.choice(["a", "b", "c", "d", ""], rows),  # "" is fuxictr's missing value
        "c2": rng.integers(0, 30, rows).astype(str),
        "n1": rng.normal(3, 2, rows).round(3),
        "n2": rng.random(rows).round(3),
        "s1": ["^".join(rng.choice(list("pqrstuv"), rng.integers(1, 7))) for _ in range(rows)],
        "label": rng.integers(0, 2, rows),
        "unused": rng.random(rows),
    })


def write_csvs(folder, frames):
    os.makedirs(folder, exist_ok=True)
    paths = {}
    for split, frame in frames.items():
        paths[f"{split}_data"] = os.path.join(folder, f"{split}.csv")
        frame.to_csv(paths[f"{split}_data"], index=False)
    return paths


def dataset_params(tmp_path, frames, dataset_id="h5set"):
    params = {"dataset_id": dataset_id, "data_root": str(tmp_path / "data"), "feature_cols": FEATURE_COLS,
              "label_col": LABEL_COL, "min_categr_count": 2}
    params.update(write_csvs(tmp_path / "raw", frames))
    return params


@pytest.fixture
def built(tmp_path):
    frames = {"train": raw_frame(900, 1), "valid": raw_frame(200, 2), "test": raw_frame(150, 3)}
    params = dataset_params(tmp_path, frames)
    paths = build_h5_dataset(FeatureProcessor(**params), params, chunk_rows=128)
    return params, paths, frames


def loaded_feature_map(params):
    feature_map = FeatureMap(params["dataset_id"], os.path.join(params["data_root"], params["dataset_id"]))
    return load_feature_map(feature_map, os.path.join(feature_map.data_dir, "feature_map.json"), params)


def fuxictr_encoding(processor, frame):
    """fuxictr's own transform: a pandas frame in 2.3.9, a dict of column arrays in 2.3.10."""
    if "ddf" in inspect.signature(processor.transform).parameters:
        return processor.transform(frame)
    return processor.transform({column: frame[column].to_numpy() for column in frame.columns})


def test_csv_to_h5_equals_fuxictr_encoding_for_every_column(built, tmp_path):
    params, paths, frames = built
    reference = FeatureProcessor(**{**params, "data_root": str(tmp_path / "reference")})
    train = reference.preprocess(reference.read_data(params["train_data"]))
    reference.fit(train, rebuild_dataset=True, min_categr_count=2)
    feature_map = loaded_feature_map(params)
    assert feature_map.features == reference.feature_map.features
    for split in ("train", "valid", "test"):
        expected = fuxictr_encoding(reference, reference.preprocess(reference.read_data(params[f"{split}_data"]))
                                    .collect().to_pandas())
        with h5py.File(paths[split]) as store:
            assert set(store) == {"c1", "c2", "n1", "n2", "s1", "label"}
            for column in ("c1", "c2", "s1"):
                assert store[column].dtype == np.int32
                np.testing.assert_array_equal(store[column][:], np.asarray(list(expected[column])))
            for column in ("n1", "n2", "label"):
                assert store[column].dtype == np.float32
                np.testing.assert_allclose(store[column][:], np.asarray(expected[column], dtype=np.float32),
                                           rtol=1e-6)


def test_in_memory_and_streaming_loaders_yield_the_stored_rows(built):
    params, paths, _ = built
    feature_map = loaded_feature_map(params)
    with h5py.File(paths["valid"]) as store:
        stored = {c: store[c][:] for c in store}
    for loader in (ColumnarDataLoader(feature_map, paths["valid"], split="valid", batch_size=64),
                   StreamingH5Loader(feature_map, paths["valid"], split="valid", batch_size=64, block_rows=70)):
        batches = list(loader)
        assert [len(b["label"]) for b in batches] == [64, 64, 64, 8] and len(loader) == 4
        for column, values in stored.items():
            np.testing.assert_array_equal(torch.cat([b[column] for b in batches]).numpy(), values)


def row_store(tmp_path, rows, parts=1):
    """h5 block files whose numeric column ``row`` is the global row number."""
    feature_map = FeatureMap("rows", str(tmp_path))
    feature_map.features = OrderedDict([("row", {"source": "", "type": "numeric"})])
    feature_map.labels = ["label"]
    feature_map.set_column_index()
    folder = tmp_path / "train"
    folder.mkdir()
    for part, chunk in enumerate(np.array_split(np.arange(rows), parts)):
        with h5py.File(folder / f"part_{part:05d}.h5", "w") as store:
            store["row"] = chunk.astype(np.float32)
            store["label"] = (chunk % 2).astype(np.float32)
    return feature_map, str(folder)


def epoch_rows(loader):
    return torch.cat([batch["row"] for batch in loader]).long().tolist()


def test_streaming_shuffle_is_a_seeded_permutation_every_epoch(tmp_path):
    feature_map, folder = row_store(tmp_path, 1000, parts=3)
    loader = StreamingH5Loader(feature_map, folder, batch_size=96, shuffle=True, seed=5, block_rows=100)
    first, second = epoch_rows(loader), epoch_rows(loader)
    assert sorted(first) == sorted(second) == list(range(1000))  # no row lost or repeated
    assert first != second and first != list(range(1000))
    again = StreamingH5Loader(feature_map, folder, batch_size=96, shuffle=True, seed=5, block_rows=100)
    assert epoch_rows(again) == first
    sizes = [len(batch["row"]) for batch in loader]
    assert sizes == [96] * 10 + [40]  # batches run across block boundaries
    assert epoch_rows(StreamingH5Loader(feature_map, folder, batch_size=96, shuffle=True, seed=5,
                                        prefetch=False, block_rows=100)) == first


def test_streaming_ranks_read_disjoint_equal_shares(tmp_path):
    feature_map, folder = row_store(tmp_path, 1000, parts=2)
    ranks = [StreamingH5Loader(feature_map, folder, batch_size=50, shuffle=True, seed=9, block_rows=120,
                               rank=rank, world_size=2) for rank in (0, 1)]
    rows = [epoch_rows(loader) for loader in ranks]
    assert len(rows[0]) == len(rows[1]) == ranks[0].num_samples and len(ranks[0]) == len(ranks[1])
    assert not set(rows[0]) & set(rows[1])
    assert len(rows[0]) + len(rows[1]) >= 1000 - 2 * 120  # at most one block's difference is left out


def test_an_abandoned_epoch_stops_the_reader_thread(tmp_path):
    import threading
    feature_map, folder = row_store(tmp_path, 1000)
    loader = StreamingH5Loader(feature_map, folder, batch_size=10, shuffle=True, block_rows=100)
    before = threading.active_count()
    iterator = iter(loader)
    next(iterator)
    iterator.close()
    assert threading.active_count() == before


def test_fuxictr_1x_layout_loads(tmp_path):
    """1.x: one 2-D array under 'data' (features in feature-map order, label last) and a
    feature_map.json with feature_specs."""
    data_dir = tmp_path / "data" / "old1x"
    data_dir.mkdir(parents=True)
    specs = OrderedDict([("c1", {"source": "", "type": "categorical", "vocab_size": 5, "index": 0}),
                         ("s1", {"source": "", "type": "sequence", "vocab_size": 9, "max_len": 3,
                                 "index": [1, 2, 3]}),
                         ("n1", {"source": "", "type": "numeric", "index": 4})])
    with open(data_dir / "feature_map.json", "w") as handle:
        json.dump({"dataset_id": "old1x", "num_fields": 3, "num_features": 15, "input_length": 5,
                   "feature_specs": specs}, handle)
    data = np.array([[1, 2, 3, 0, 0.5, 1], [4, 1, 0, 0, -1.5, 0], [2, 8, 7, 6, 2.0, 1]], dtype=np.float64)
    with h5py.File(data_dir / "train.h5", "w") as store:
        store["data"] = data
    params = {"dataset_id": "old1x", "data_root": str(tmp_path / "data"), "label_col": {"name": "click"}}
    feature_map = loaded_feature_map(params)
    assert list(feature_map.features) == ["c1", "s1", "n1"] and feature_map.labels == ["click"]
    batch = next(iter(ColumnarDataLoader(feature_map, str(data_dir / "train.h5"), split="valid", batch_size=8)))
    assert batch["c1"].tolist() == [1, 4, 2]
    assert batch["s1"].tolist() == [[2, 3, 0], [1, 0, 0], [8, 7, 6]]
    assert batch["n1"].tolist() == [0.5, -1.5, 2.0] and batch["click"].tolist() == [1, 0, 1]


def test_fuxictr_2_0_block_files_load(tmp_path):
    """2.0-2.1: one dataset per column, split into block files <split>/part_*.h5."""
    feature_map, folder = row_store(tmp_path, 300, parts=3)
    loader = ColumnarDataLoader(feature_map, folder, split="valid", batch_size=1000)
    assert loader.num_blocks == 3
    assert next(iter(loader))["row"].long().tolist() == list(range(300))


def bad_frames(**changes):
    frames = {"train": raw_frame(300, 1), "valid": raw_frame(100, 2)}
    for split, change in changes.items():
        frames[split] = change(frames[split])
    return frames


@pytest.mark.parametrize("changes, message", [
    ({"valid": lambda f: f.drop(columns=["n2"])}, r"valid.csv: missing columns \['n2'\]"),
    ({"train": lambda f: f.assign(label=f["label"] * 2)},
     r"train_data: .*train.csv, column 'label': \d+ labels that are not 0 or 1; the first, '2(.0)?', at line \d+"),
    ({"valid": lambda f: f.assign(label=f["label"].where(f.index > 5))},
     r"valid_data: .*valid.csv, column 'label': 6 missing labels"),
    ({"valid": lambda f: f.iloc[:0]}, r"valid_data: .*valid.csv has a header but no rows"),
    ({"train": lambda f: f.assign(n2=f["n2"].astype(object).where(f.index != 7, "abc"))},
     r"train_data: .*train.csv, column 'n2': 1 values that are not numbers .*'abc', at line 9"),
])
def test_bad_csv_is_named_before_anything_is_built(tmp_path, changes, message):
    params = dataset_params(tmp_path, bad_frames(**changes))
    with pytest.raises(ValueError, match=message):
        check_raw_splits(params)


@pytest.mark.parametrize("where, line", [("body", 42), ("header", 1)])
def test_bytes_that_are_not_text_are_named_by_file_and_line(tmp_path, where, line):
    params = dataset_params(tmp_path, bad_frames())
    lines = open(params["valid_data"], "rb").read().splitlines(keepends=True)
    lines[line - 1] = lines[line - 1][:3] + b"\xff\xfe\x81" + lines[line - 1][3:]
    open(params["valid_data"], "wb").write(b"".join(lines))
    with pytest.raises(ValueError, match=rf"valid_data: .*valid.csv, line {line}( \(the header\))?: not UTF-8 text"):
        check_raw_splits(params)


def test_bad_h5_files_are_named(built, tmp_path):
    params, paths, _ = built
    feature_map = loaded_feature_map(params)
    with h5py.File(paths["test"], "a") as store:
        store["extra"] = np.zeros(150, dtype=np.float32)
    with pytest.raises(ValueError, match=r"test.h5: columns do not match feature_map.json; not in the feature map \['extra'\]"):
        ColumnarDataLoader(feature_map, paths["test"], split="test")
    with h5py.File(paths["test"], "a") as store:
        del store["extra"]
        del store["n1"]
    with pytest.raises(ValueError, match=r"test.h5: columns do not match feature_map.json; missing \['n1'\]"):
        StreamingH5Loader(feature_map, paths["test"], split="test")
    with h5py.File(paths["valid"], "a") as store:
        store["label"][3] = 0.5
    with pytest.raises(ValueError, match=r"valid.h5: label column 'label' must be 0 or 1; found \[0.5\]"):
        StreamingH5Loader(feature_map, paths["valid"], split="valid")
    with open(paths["train"], "r+b") as handle:
        handle.truncate(os.path.getsize(paths["train"]) // 2)
    with pytest.raises(ValueError, match=r"train.h5: (not a readable h5 file|cannot read rows)"):
        ColumnarDataLoader(feature_map, paths["train"])


def test_required_columns_follow_preprocess_arguments():
    cols = [{"name": "hour", "type": "categorical", "preprocess": "convert_hour"},
            {"name": "weekday", "type": "categorical", "preprocess": "convert_weekday(hour)"},
            {"name": ["a", "b"], "type": "categorical"}, {"name": "off", "active": False, "type": "categorical"}]
    assert required_raw_columns(cols, [{"name": "click"}]) == ["hour", "a", "b", "click"]


def test_csv_chunks_read_every_row_once_in_order(built):
    import polars as pl
    from fuxictr_ssr.data.h5_store import csv_chunks
    params, _, _ = built
    dtypes = {"c1": str, "c2": str}
    whole = pl.read_csv(params["train_data"], schema_overrides=dtypes)
    chunks = list(csv_chunks(params["train_data"], ",", dtypes, chunk_rows=7))
    assert len(chunks) == -(-len(whole) // 7) and all(len(chunk) == 7 for chunk in chunks[:-1])
    assert pl.concat(chunks).equals(whole)
