import filecmp
import json
import os

import numpy as np
import pandas as pd
import polars as pl
import pytest
import torch

from fuxictr_ssr.compat import clipped_log_loss
from fuxictr_ssr.data import ColumnarDataLoader, SyntheticSpec, generate, write_splits
from fuxictr_ssr.data.processors import KKBoxFeatureProcessor
from helpers import categorical_feature_map

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = os.path.join(REPO_ROOT, "data", "tiny_synthetic")
# The command recorded in data/tiny_synthetic/README.md
TINY_SPEC = SyntheticSpec(num_rows=4000, num_fields=12, num_informative=3, num_interactions=2,
                          vocab_size=20, seed=2026)


def test_committed_tiny_dataset_is_what_the_recorded_command_writes(tmp_path):
    write_splits(TINY_SPEC, tmp_path)
    for name in ("train.csv", "valid.csv", "test.csv", "spec.json"):
        assert filecmp.cmp(tmp_path / name, os.path.join(TINY, name), shallow=False), name


def test_generator_is_deterministic_and_seed_sensitive():
    spec = SyntheticSpec(num_rows=500, seed=3)
    first, truth = generate(spec)
    second, _ = generate(spec)
    pd.testing.assert_frame_equal(first, second)
    other, _ = generate(SyntheticSpec(num_rows=500, seed=4))
    assert not first.equals(other)
    assert set(first["label"].unique()) <= {0, 1}
    assert len(truth["informative_fields"]) == spec.num_informative
    assert len(truth["interacting_pairs"]) == spec.num_interactions


def test_generated_labels_follow_the_hidden_signal():
    frame, truth = generate(SyntheticSpec(num_rows=20000, seed=1))
    from sklearn.metrics import roc_auc_score
    assert roc_auc_score(frame["label"], truth["click_probability"]) > 0.75
    noise_field = next(f for f in SyntheticSpec().field_names
                       if f not in truth["informative_fields"] and
                       all(f not in pair for pair in truth["interacting_pairs"]))
    by_value = frame.groupby(noise_field)["label"].mean()
    assert by_value.std() < 0.05  # a noise field carries no signal


@pytest.mark.parametrize("key,value", [("num_rows", 0), ("num_informative", 99), ("num_interactions", -1)])
def test_generator_rejects_bad_spec(key, value):
    with pytest.raises(ValueError, match=key):
        SyntheticSpec(**{key: value})


def write_parquet_split(path, num_rows=103):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({f"f{i:02d}": rng.integers(1, 22, num_rows) for i in range(1, 13)})
    frame["label"] = rng.integers(0, 2, num_rows).astype("float32")
    frame.to_parquet(path)
    return frame


def test_loader_shuffle_is_seeded_permutation(tmp_path):
    frame = write_parquet_split(tmp_path / "train.parquet")
    feature_map = categorical_feature_map()
    loader = ColumnarDataLoader(feature_map, str(tmp_path / "train"), split="train", batch_size=10,
                                shuffle=True, seed=5)
    assert len(loader) == 11
    epoch_one = torch.cat([batch["f01"] for batch in loader])
    epoch_two = torch.cat([batch["f01"] for batch in loader])
    assert sorted(epoch_one.tolist()) == sorted(frame["f01"].tolist())
    assert not torch.equal(epoch_one, epoch_two)
    replay = ColumnarDataLoader(feature_map, str(tmp_path / "train.parquet"), split="train",
                                batch_size=10, shuffle=True, seed=5)
    assert torch.equal(torch.cat([batch["f01"] for batch in replay]), epoch_one)


def test_loader_keeps_order_for_evaluation_and_reads_npz(tmp_path):
    frame = write_parquet_split(tmp_path / "valid.parquet")
    np.savez(tmp_path / "valid_npz.npz", **{c: frame[c].to_numpy() for c in frame.columns})
    feature_map = categorical_feature_map()
    for path in (tmp_path / "valid.parquet", tmp_path / "valid_npz"):
        loader = ColumnarDataLoader(feature_map, str(path), split="valid", batch_size=10, shuffle=True)
        assert torch.cat([b["label"] for b in loader]).tolist() == frame["label"].tolist()


def test_loader_names_missing_split(tmp_path):
    with pytest.raises(ValueError, match="preprocessed data .*nowhere.* not found"):
        ColumnarDataLoader(categorical_feature_map(), str(tmp_path / "nowhere"))


def test_clipped_log_loss_is_bars_definition():
    y = np.array([0, 1, 1, 0])
    p = np.array([0.0, 1.0, 0.3, 0.6])
    clipped = np.clip(p, 1e-7, 1 - 1e-7)
    expected = -np.mean(y * np.log(clipped) + (1 - y) * np.log(1 - clipped))
    assert clipped_log_loss(y, p) == pytest.approx(expected, rel=1e-12)


def test_ray_usage_reporting_is_off_unless_the_user_chose(monkeypatch):
    import fuxictr.metrics
    from fuxictr_ssr.compat import patch_fuxictr
    monkeypatch.delenv("RAY_USAGE_STATS_ENABLED", raising=False)
    patch_fuxictr()
    assert os.environ["RAY_USAGE_STATS_ENABLED"] == "0" and fuxictr.metrics.log_loss is clipped_log_loss
    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "1")
    patch_fuxictr()
    assert os.environ["RAY_USAGE_STATS_ENABLED"] == "1"


def test_kkbox_processor_expressions():
    processor = KKBoxFeatureProcessor.__new__(KKBoxFeatureProcessor)  # the expressions need no state
    frame = pl.DataFrame({"isrc": ["USUM71703861", None, "GB"], "bd": ["0", "27", "96"]})
    out = frame.select(processor.extract_country_code("isrc").alias("isrc"),
                       processor.bucketize_age("bd").alias("bd"))
    assert out["isrc"].to_list() == ["US", "", "GB"]
    assert out["bd"].to_list() == ["", "3", ""]
    ages = pl.DataFrame({"bd": ["1", "10", "11", "60", "61", "95", None]})
    assert ages.select(processor.bucketize_age("bd").alias("bd"))["bd"].to_list() == ["1", "1", "2", "6", "7", "7", ""]


@pytest.mark.slow
def test_criteo_like_generator_shape_and_teacher(tmp_path):
    from sklearn.metrics import roc_auc_score
    from fuxictr_ssr.data.criteo_like import CriteoLikeSpec, generate, write_splits
    spec = CriteoLikeSpec(num_rows=20000, seed=5)
    frame, truth = generate(spec)
    assert list(frame.columns) == ["label"] + [f"I{i}" for i in range(1, 14)] + [f"C{i}" for i in range(1, 27)]
    assert frame["label"].mean() == pytest.approx(0.25, abs=0.02)
    assert frame["I12"].isna().mean() == pytest.approx(0.77, abs=0.02)
    assert (frame["C22"] == "").mean() == pytest.approx(0.76, abs=0.02)
    assert frame["C9"].nunique() <= 3 and frame["C1"].str.fullmatch("[0-9a-f]{8}").all()
    assert len(truth["informative_fields"]) == 8 and len(truth["interacting_pairs"]) == 4
    assert roc_auc_score(frame["label"], truth["click_probability"]) > 0.75
    again, _ = generate(spec)
    pd.testing.assert_frame_equal(frame, again)
    paths = write_splits(CriteoLikeSpec(num_rows=1000, seed=5), tmp_path)
    assert [len(pd.read_csv(paths[s])) for s in ("train", "valid", "test")] == [800, 100, 100]
    small, small_truth = generate(CriteoLikeSpec(num_rows=1000, seed=5))
    recorded = json.load(open(tmp_path / "spec.json"))["oracle_test_auc"]
    assert recorded == pytest.approx(roc_auc_score(small["label"][900:], small_truth["click_probability"][900:]))


def test_loader_shuffle_follows_its_seed(tmp_path):
    write_parquet_split(tmp_path / "train.parquet")
    feature_map = categorical_feature_map()

    def first_epoch(seed):
        loader = ColumnarDataLoader(feature_map, str(tmp_path / "train.parquet"), split="train", batch_size=10,
                                    shuffle=True, seed=seed)
        return torch.cat([batch["f01"] for batch in loader])

    assert torch.equal(first_epoch(5), first_epoch(5))
    assert not torch.equal(first_epoch(5), first_epoch(6))


def test_fuxictr_scores_logloss_the_bars_way_once_the_plugin_is_imported():
    """Through fuxictr's own evaluate_metrics: an exactly wrong prediction costs -log(1e-7), the
    BARS clip, not sklearn's own (much larger) one."""
    import fuxictr.metrics
    import fuxictr_ssr.models  # noqa: F401  (applies the patch)
    scores = fuxictr.metrics.evaluate_metrics(np.array([1.0, 0.0]), np.array([0.0, 0.0]), ["logloss"])
    assert scores["logloss"] == pytest.approx(-np.log(1e-7) / 2, rel=1e-6)  # sklearn alone: 18.0
