"""The scaling sweep on a tiny generated suite: 2 families x 2 sizes x 1 seed -> CSV and PNG."""
import csv
import os

import pytest
import torch

from fuxictr_ssr.config import load_params
from fuxictr_ssr.data import SyntheticSpec
from fuxictr_ssr.data.dataset import feature_map_from_config
from fuxictr_ssr.scaling import non_embedding_params, run_scaling, width_for, with_width, write_sweep_config
from helpers import generated_experiment

BASES = {"DNN_gen": {"model": "DNN", "hidden_units": [8, 8]},
         "SSR_D_gen": {"model": "SSR", "filter_type": "ics", "num_views": [2, 2], "view_dims": [4, 4]}}


@pytest.fixture
def suite(tmp_path):
    spec = SyntheticSpec(num_rows=1500, num_fields=6, num_informative=2, num_interactions=1, vocab_size=8, seed=3)
    return generated_experiment(tmp_path, BASES, spec=spec, base={"epochs": 1})


def test_width_search_finds_the_smallest_width_reaching_the_target(suite):
    base = load_params(suite, "DNN_gen")
    feature_map = feature_map_from_config(base)
    width = width_for("DNN", base, 5000, feature_map)
    assert non_embedding_params(with_width("DNN", base, width), feature_map) >= 5000
    assert non_embedding_params(with_width("DNN", base, width - 1), feature_map) < 5000
    assert with_width("DNN", base, width)["hidden_units"] == [width, width]  # depth kept


@pytest.mark.slow
def test_sweep_writes_csv_and_plot(suite, tmp_path):
    out = str(tmp_path / "scaling")
    table = run_scaling(suite, ["DNN", "SSR_D"], [2000, 8000], [1], out, log=lambda m: None)
    assert [(r["family"], r["expid"]) for r in table] == [
        ("DNN", "DNN_2e3"), ("DNN", "DNN_8e3"), ("SSR_D", "SSR_D_2e3"), ("SSR_D", "SSR_D_8e3")]
    for row in table:
        target = 2000 if row["expid"].endswith("2e3") else 8000
        assert target <= row["params_non_embedding"] < 1.5 * target
        assert 0 < row["test_AUC_mean"] < 1 and row["seeds"] == 1
    with open(os.path.join(out, "scaling.csv")) as handle:
        assert len(list(csv.DictReader(handle))) == 4
    assert os.path.getsize(os.path.join(out, "scaling.png")) > 1000
    for family in ("DNN", "SSR_D"):  # more width, more compute per sample
        small, large = [r["train_flops_per_sample"] for r in table if r["family"] == family]
        assert 0 < small < large
    fits = open(os.path.join(out, "scaling_fit.md")).read()
    assert "| DNN | 2 | 2 | - (2 sizes: a power law plus a constant needs at least 3) |" in fits
    # a later sweep into the same folder adds to it instead of forgetting the first
    table = run_scaling(suite, ["DNN"], [4000], [1], out, log=lambda m: None)
    assert [r["expid"] for r in table] == ["DNN_2e3", "DNN_4e3", "DNN_8e3", "SSR_D_2e3", "SSR_D_8e3"]
    assert "(no interval: 3 points for 3 parameters)" in open(os.path.join(out, "scaling_fit.md")).read()
    # report-only plots what is there and runs nothing (a size never run stays out of the table)
    table = run_scaling(suite, ["DNN"], [16000], [1], out, log=lambda m: None, report_only=True)
    assert [r["expid"] for r in table] == ["DNN_2e3", "DNN_4e3", "DNN_8e3", "SSR_D_2e3", "SSR_D_8e3"]
    with pytest.raises(ValueError, match="no finished run of this sweep yet"):
        run_scaling(suite, ["DNN"], [2000], [1], str(tmp_path / "empty"), log=lambda m: None, report_only=True)


def test_max_epochs_caps_every_size(tmp_path):
    suite = generated_experiment(tmp_path, BASES, base={"epochs": 5})
    sweep_dir, expids = write_sweep_config(suite, ["DNN"], [2000, 4000], str(tmp_path / "out"), max_epochs=3)
    assert [load_params(sweep_dir, e)["epochs"] for e in expids] == [3, 3]
    sweep_dir, expids = write_sweep_config(suite, ["DNN"], [2000], str(tmp_path / "out2"), max_epochs=9)
    assert load_params(sweep_dir, expids[0])["epochs"] == 5  # never raised above the base's


def test_unknown_family_is_named(suite, tmp_path):
    with pytest.raises(ValueError, match="--family: expected some of DNN, DCNv2, SSR_S, SSR_D, got 'MLP'"):
        run_scaling(suite, ["MLP"], [1000], [1], str(tmp_path / "out"), log=lambda m: None)
    with pytest.raises(ValueError, match="--family: no DCNv2_<dataset> experiment"):
        run_scaling(suite, ["DCNv2"], [1000], [1], str(tmp_path / "out"), log=lambda m: None)


def test_training_flops_per_sample_of_a_dnn_are_six_per_weight_of_its_matrix_products():
    """Forward 2 FLOPs per multiply-add, backward twice the forward (input and weight gradients)."""
    from fuxictr_ssr.models.flops import training_flops_per_sample
    from fuxictr_ssr.registry import create_model
    from helpers import categorical_feature_map
    feature_map = categorical_feature_map(num_fields=6, vocab_size=9)
    model = create_model({"model": "DNN", "embedding_dim": 4, "hidden_units": [64, 32], "batch_norm": True},
                         feature_map)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    assert training_flops_per_sample(model, feature_map) == 6 * (6 * 4 * 64 + 64 * 32 + 32 * 1)
    assert training_flops_per_sample(model, feature_map, batch_size=7) == 6 * (6 * 4 * 64 + 64 * 32 + 32 * 1)
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())  # BatchNorm statistics kept
    assert all(p.grad is None for p in model.parameters())


def test_power_law_fit_recovers_a_known_exponent_and_says_when_it_cannot_give_an_interval():
    import numpy as np
    from fuxictr_ssr.analysis.power_law import fit_power_law
    rng = np.random.default_rng(0)
    x = np.repeat([1e5, 3e5, 1e6, 3e6, 1e7], 3)
    logloss = 0.15 + 0.02 * (x / 1e5) ** -0.4 + rng.normal(0, 2e-4, len(x))
    fit = fit_power_law(x, logloss)
    assert fit["interval"][0] < 0.4 < fit["interval"][1] and fit["interval"][1] - fit["interval"][0] < 0.1
    assert abs(fit["floor"] - 0.15) < 0.002 and fit["points"] == 15
    auc = 0.80 - 0.01 * (x / 1e5) ** -0.3 + rng.normal(0, 1e-4, len(x))
    rising = fit_power_law(x, auc, decreasing=False)
    assert abs(rising["exponent"] - 0.3) < 0.03 and rising["interval"][1] - rising["interval"][0] < 0.1
    three = fit_power_law(x[::3][:3], logloss[::3][:3])
    assert three["exponent"] is not None and three["interval"] is None and three["reason"] == "3 points for 3 parameters"
    assert fit_power_law([1e5, 1e5, 2e5], [0.2, 0.21, 0.19])["reason"].startswith("2 sizes")
    accelerating = fit_power_law([1e5, 1e6, 1e7], [0.4917, 0.4911, 0.4893])  # falls faster with more compute
    assert accelerating["interval"] is None and accelerating["reason"].startswith("b at its bound")
    assert accelerating["at_bound"] and not fit["at_bound"] and not three["at_bound"]
    from fuxictr_ssr.scaling import fit_lines
    row = fit_lines({"X": {"logloss": accelerating, "AUC": rising, "sizes": 3}})[2]
    # a bound exponent and its floor are no estimates: the table gives neither, only the reason
    assert row.startswith("| X | 3 | 3 | - (b at its bound (") and "| - | 0.3" in row
