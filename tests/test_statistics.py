"""Statistics counted in chunks equal fuxictr's own statistics pass, and the h5 build refuses what it
cannot encode before reading any data."""
import numpy as np
import pandas as pd
import pytest
from fuxictr.preprocess import FeatureProcessor

from fuxictr_ssr.data import statistics
from fuxictr_ssr.data.h5_store import build_h5_dataset
from test_h5_store import dataset_params, raw_frame

FEATURE_COLS = [
    {"name": ["c1", "c2"], "active": True, "dtype": "str", "type": "categorical"},
    {"name": "c3", "active": True, "dtype": "str", "type": "categorical", "min_categr_count": 5},
    {"name": "n1", "active": True, "dtype": "float", "type": "numeric", "normalizer": "StandardScaler"},
    {"name": "n2", "active": True, "dtype": "float", "type": "numeric", "normalizer": "MinMaxScaler"},
    {"name": "s1", "active": True, "dtype": "str", "type": "sequence", "splitter": "^"},
    {"name": "s2", "active": True, "dtype": "str", "type": "sequence", "splitter": "^", "max_len": 3},
    {"name": "unused", "active": False, "dtype": "float", "type": "numeric", "normalizer": "StandardScaler"},
]


def frame(rows=3000, seed=5):
    data = raw_frame(rows, seed)
    rng = np.random.default_rng(seed)
    zipf = rng.zipf(1.3, rows)  # long-tailed: most values seen once, a few often
    data["c3"] = np.where(rng.random(rows) < 0.1, "", zipf.astype(str))
    data["n1"] = np.where(rng.random(rows) < 0.05, np.nan, data["n1"] * 1e3)
    data["s2"] = data["s1"]
    return data


def processor(tmp_path, data):
    params = dataset_params(tmp_path, {"train": data})
    params["feature_cols"] = FEATURE_COLS
    return FeatureProcessor(**params), params


@pytest.mark.parametrize("chunk_rows", [7, 400, 10_000])
def test_chunked_statistics_equal_fuxictrs(tmp_path, monkeypatch, chunk_rows):
    monkeypatch.setattr(statistics, "MERGE_MIN_ROWS", 50)  # merge often: the geometric merge is exercised
    proc, params = processor(tmp_path, frame())
    if not hasattr(proc, "_collect_statistics"):
        pytest.skip("fuxictr 2.3.9 has no statistics pass")
    train = proc.preprocess(proc.read_data(params["train_data"]))
    expected = proc._collect_statistics(train)
    found = statistics.chunked_statistics(proc, [params["train_data"]], chunk_rows=chunk_rows, min_categr_count=2)
    assert set(found) == set(expected) == {"c1", "c2", "c3", "n1", "n2", "s1", "s2"}
    for name in ("c1", "c2", "c3"):
        least = 5 if name == "c3" else 2
        kept = {v: n for v, n in expected[name]["value_counts"].items() if n >= least}
        assert found[name]["value_counts"] == kept
        assert len(kept) < len(expected[name]["value_counts"]) or name != "c3"  # c3 really was pruned
    for name in ("s1", "s2"):
        assert found[name] == expected[name]
    assert found["s1"]["max_len"] == 6
    for name in ("n1", "n2"):
        assert found[name]["count"] == expected[name]["count"]
        for key in ("min", "max", "mean", "std"):
            assert found[name][key] == pytest.approx(expected[name][key], rel=1e-12), (name, key)


def test_the_vocabulary_of_a_chunked_fit_is_fuxictrs(tmp_path, monkeypatch):
    monkeypatch.setattr(statistics, "MERGE_MIN_ROWS", 50)
    data = frame()
    ours, params = processor(tmp_path / "ours", data)
    build_h5_dataset(ours, params, chunk_rows=300)
    reference, reference_params = processor(tmp_path / "reference", data)
    reference.fit(reference.preprocess(reference.read_data(reference_params["train_data"])), min_categr_count=2)
    assert ours.feature_map.features == reference.feature_map.features
    for key, fitted in reference.processor_dict.items():
        if key.endswith("::tokenizer"):
            assert ours.processor_dict[key].vocab == fitted.vocab, key
    assert not hasattr(ours, "_collect_statistics") or "_collect_statistics" not in vars(ours)


def test_a_column_the_h5_path_cannot_encode_is_named_before_reading(tmp_path):
    proc, params = processor(tmp_path, frame(50))
    params["feature_cols"] = FEATURE_COLS[:1] + [{"name": "c3", "active": True, "dtype": "str", "type": "categorical",
                                                 "category_processor": "hash_bucket"}]
    proc = FeatureProcessor(**params)
    pd.DataFrame({"broken": [1]}).to_csv(params["train_data"], index=False)  # never read
    with pytest.raises(ValueError, match=r"c3 \(hash_bucket\).*use data_format: csv"):
        build_h5_dataset(proc, params)
