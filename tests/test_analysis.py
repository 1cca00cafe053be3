import os

import pytest
import torch
from torch import nn

from fuxictr_ssr.analysis.ics_activity import SurvivorMeter, alpha_summary
from fuxictr_ssr.analysis.weight_sparsity import concentration, dense_weights, weight_statistics
from fuxictr_ssr.layers import IterativeCompetitiveSparse, ViewwiseLinear
from fuxictr_ssr.runner import run_experiment
from helpers import generated_experiment


def test_statistics_of_a_hand_made_matrix():
    weight = torch.tensor([[1.0, 0.0, 0.0, 0.001],
                           [0.5, 0.0, 0.04, 0.0]])
    stats = weight_statistics(weight, thresholds=(1e-3, 1e-2, 5e-2))
    assert stats["shape"] == "2x4" and stats["weights"] == 8
    assert stats["near_zero_0.001"] == 4 / 8   # the four exact zeros; 0.001 is not below 0.001
    assert stats["near_zero_0.01"] == 5 / 8    # + 0.001
    assert stats["near_zero_0.05"] == 6 / 8    # + 0.04
    # mass per input: 1.25, 0, 0.0016, 1e-6 -> the first input alone holds > 80%
    assert stats["inputs_for_80%_mass"] == 1 / 4


def test_concentration_of_even_and_skewed_inputs():
    assert concentration(torch.ones(10)) == pytest.approx(0.8)
    assert concentration(torch.tensor([8.0, 1.0, 1.0])) == pytest.approx(1 / 3)
    assert concentration(torch.tensor([7.0, 1.0, 1.0, 1.0])) == pytest.approx(2 / 4)


def test_dense_weights_cover_linear_and_viewwise_layers_but_not_embeddings():
    class Tiny(nn.Module):
        def __init__(self):
            super().__init__()
            self.dense = nn.Linear(4, 3)
            self.views = ViewwiseLinear(num_views=2, input_dim=5, output_dim=6)

    named = dict(dense_weights(Tiny()))
    assert named["dense"].shape == (3, 4)
    assert named["views"].shape == (12, 5)  # views x outputs, inputs
    view_one = Tiny().views
    assert torch.equal(next(dense_weights(nn.Sequential(view_one)))[1][6:], view_one.weight[1].T)


def test_survivor_meter_counts_nonzeros_and_detaches():
    ics = IterativeCompetitiveSparse(num_views=2, view_dim=4, iterations=0)
    u = torch.tensor([[[1.0, -1.0, 2.0, -3.0], [0.0, 1.0, 1.0, 1.0]]])
    with SurvivorMeter([(0, ics)]) as meter:
        ics(u)
    assert meter.fractions() == {0: 5 / 8}
    ics(u)  # after the block the hook is gone
    assert meter.fractions() == {0: 5 / 8}
    assert alpha_summary(IterativeCompetitiveSparse(2, 4, iterations=3, alpha_init=0.25)) == [0.25] * 3


@pytest.mark.slow
def test_sparsity_report_on_trained_models_and_ics_log(tmp_path):
    from fuxictr_ssr.sparsity import sparsity_report
    experiments = {"DNN_gen": {"model": "DNN", "hidden_units": [32, 16]},
                   "SSR_D_gen": {"model": "SSR", "filter_type": "ics", "num_views": [2, 2], "view_dims": [8, 8]}}
    config_dir = generated_experiment(tmp_path, experiments, base={"epochs": 1})
    for expid in experiments:
        result = run_experiment(config_dir, expid, result_csv=str(tmp_path / "r.csv"))
        out = tmp_path / f"report_{expid}"
        rows, ics_rows = sparsity_report(config_dir, expid, result["checkpoint"], str(out))
        for name in ("sparsity.csv", "sparsity.md", "sparsity.png"):
            assert (out / name).stat().st_size > 0
        assert all(0 <= row["near_zero_0.01"] <= 1 and 0 < row["inputs_for_80%_mass"] <= 1 for row in rows)
        if expid == "DNN_gen":
            assert [r["layer"] for r in rows] == ["mlp.mlp.0", "mlp.mlp.2", "mlp.mlp.4"]
            assert ics_rows == []
        else:
            assert [r["layer"] for r in ics_rows] == [0, 1]
            assert all(0 < r["surviving_fraction"] < 1 for r in ics_rows)
            assert (out / "ics.md").is_file()
            log = open(os.path.join(tmp_path, "checkpoints", "gen", "SSR_D_gen.log")).read()
            assert "ICS layer 0: surviving fraction" in log and "ICS layer 1: surviving fraction" in log


def test_missing_checkpoint_is_named(tmp_path):
    from fuxictr_ssr.sparsity import sparsity_report
    config_dir = generated_experiment(tmp_path, {"DNN_gen": {"model": "DNN"}})
    with pytest.raises(ValueError, match="--checkpoint: .*nope.model' does not exist"):
        sparsity_report(config_dir, "DNN_gen", str(tmp_path / "nope.model"), str(tmp_path / "out"))
