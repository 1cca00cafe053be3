"""The switches that reach the authors' settings (README "Fidelity"): per-field embedding
BatchNorm, the authors' initialisation, Keras' Adam, the exact logit loss, the text block's
checks, and the defaults left as FuxiCTR's."""
import math

import pytest
import torch

from fuxictr_ssr.layers import EmbeddingNorm, draw_view_indices_authors
from fuxictr_ssr.layers.keras_init import glorot_uniform_
from fuxictr_ssr.optim import KerasAdam
from fuxictr_ssr.registry import create_model
from helpers import categorical_feature_map

SSR_D = {"model": "SSR", "embedding_dim": 8, "num_views": [4, 2], "view_dims": [16, 16], "embedding_norm": "batch_norm"}


def test_field_batch_norm_normalises_each_field_over_batch_and_dimensions():
    norm = EmbeddingNorm("field_batch_norm", embedding_dim=4, num_fields=3, eps=1e-3).train()
    x = torch.randn(64, 3, 4) * torch.tensor([1.0, 5.0, 0.2]).view(1, 3, 1) + torch.tensor([0.0, 3.0, -2.0]).view(1, 3, 1)
    out = norm(x)
    torch.testing.assert_close(out.mean(dim=(0, 2)), torch.zeros(3), atol=1e-5, rtol=0)
    expected = (x - x.mean(dim=(0, 2), keepdim=True)) / torch.sqrt(x.var(dim=(0, 2), unbiased=False, keepdim=True) + 1e-3)
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)
    assert sum(p.numel() for p in norm.parameters()) == 2 * 3
    # per embedding dimension differs: its statistics pool the fields
    assert not torch.allclose(EmbeddingNorm("batch_norm", 4, eps=1e-3).train()(x), out, atol=1e-2)


def test_the_authors_index_rule_ignores_the_seed_and_depends_on_layer_and_view():
    first = draw_view_indices_authors(30, 3, 10, layer_number=1)
    assert torch.equal(first, draw_view_indices_authors(30, 3, 10, layer_number=1))
    assert not torch.equal(first, draw_view_indices_authors(30, 3, 10, layer_number=2))
    assert all(len(set(view.tolist())) == 10 for view in first) and len({tuple(v.tolist()) for v in first}) == 3
    seeds = [create_model({**SSR_D, "filter_type": "static", "filter_index_rule": "authors", "seed": seed},
                          categorical_feature_map(5, 9)).ssr_layers[0].filter.indices for seed in (1, 2)]
    assert torch.equal(seeds[0], seeds[1]) and torch.equal(seeds[0], draw_view_indices_authors(40, 4, 16, 1))


def test_authors_init_uses_keras_defaults_and_the_default_stays_fuxictrs():
    torch.manual_seed(0)
    fm = categorical_feature_map(12, 400)
    authors = create_model({**SSR_D, "weight_init": "authors"}, fm)
    default = create_model(SSR_D, fm)
    table = next(iter(authors.embedding_layer.embedding_layer.embedding_layers.values())).weight
    assert table[0].abs().max() == 0 and 0.045 < table[1:].abs().max() <= 0.05
    assert next(iter(default.embedding_layer.embedding_layer.embedding_layers.values())).weight.std() < 1e-3
    projection = authors.ssr_layers[0].filter.projection.weight  # per view [d_v, d_in]: std sqrt(2/(d_in+d_v))
    assert projection.std().item() == pytest.approx(math.sqrt(2 / (96 + 16)), rel=0.05)
    assert default.ssr_layers[0].filter.projection.weight.std().item() == pytest.approx(
        math.sqrt(2 / (96 + 4 * 16 * 2)), rel=0.05)  # FuxiCTR: Xavier over the fused matrix
    dense = authors.ssr_layers[0].fusion.dense_layers[0].weight
    assert dense.abs().max() <= math.sqrt(6 / 32) and dense.std().item() == pytest.approx(math.sqrt(2 / 32), rel=0.1)
    head = [m for m in authors.head.modules() if isinstance(m, torch.nn.Linear)][-1]
    assert head.bias.abs().max() == 0 and head.weight.abs().max() <= math.sqrt(6 / 17)


def test_keras_adam_follows_keras_arithmetic_not_torchs():
    grads = [torch.tensor([1e-6, 0.5, -2.0]), torch.tensor([3e-6, -0.1, 1.0]), torch.tensor([-2e-6, 0.2, 0.5])]
    lr, b1, b2, eps = 0.01, 0.9, 0.999, 1e-7
    keras_param, torch_param = torch.nn.Parameter(torch.ones(3)), torch.nn.Parameter(torch.ones(3))
    keras_opt, torch_opt = KerasAdam([keras_param], lr=lr), torch.optim.Adam([torch_param], lr=lr, eps=eps)
    m = v = torch.zeros(3)
    expected = torch.ones(3)
    for step, g in enumerate(grads, start=1):  # Keras 2.15's Adam.update_step, by hand
        m = m + (g - m) * (1 - b1)
        v = v + (g * g - v) * (1 - b2)
        expected = expected - lr * math.sqrt(1 - b2 ** step) / (1 - b1 ** step) * m / (v.sqrt() + eps)
        for param, opt in ((keras_param, keras_opt), (torch_param, torch_opt)):
            param.grad = g.clone()
            opt.step()
    torch.testing.assert_close(keras_param.data, expected, rtol=1e-6, atol=1e-7)
    assert abs(keras_param[0] - torch_param[0]) > 1e-4  # a gradient near eps: the conventions part


def test_optimizer_choice_and_epsilon_reach_the_model():
    fm = categorical_feature_map(4, 9)
    keras = create_model({**SSR_D, "optimizer": "keras_adam"}, fm).optimizer
    assert isinstance(keras, KerasAdam) and keras.defaults["eps"] == 1e-7
    assert create_model({**SSR_D, "optimizer": "keras_adam", "optimizer_epsilon": 1e-4}, fm).optimizer.defaults["eps"] == 1e-4
    adam = create_model({**SSR_D, "optimizer_epsilon": 1e-7}, fm).optimizer
    assert isinstance(adam, torch.optim.Adam) and adam.defaults["eps"] == 1e-7
    assert create_model(SSR_D, fm).optimizer.defaults["eps"] == 1e-8  # FuxiCTR's default untouched


@pytest.mark.parametrize("model", ["SSR", "DNN", "DeepFM", "DCNv2", "RankMixer", "WuKong"])
def test_the_logit_loss_is_exact_where_the_probability_loss_saturates(model):
    fm = categorical_feature_map(8, 9)
    built = create_model({"model": model, "embedding_dim": 4, "loss": "bce_with_logits"}, fm)
    logit = torch.tensor([[30.0], [-2.0]], requires_grad=True)
    y = torch.tensor([[0.0], [1.0]])
    loss = built.add_loss({"y_pred": torch.sigmoid(logit), "logit": logit}, y)
    exact = (30 + math.log1p(math.exp(-30)) + 2 + math.log1p(math.exp(-2))) / 2
    assert loss.item() == pytest.approx(exact, rel=1e-6)
    loss.backward()
    assert logit.grad[0].item() == pytest.approx(0.5, rel=1e-6)  # sigmoid(30) / 2: not cut off
    probability = create_model({"model": model, "embedding_dim": 4}, fm)
    clipped = probability.add_loss({"y_pred": torch.sigmoid(torch.tensor([[30.0], [-2.0]]))}, y)
    assert clipped.item() == pytest.approx((100 + 2 + math.log1p(math.exp(-2))) / 2, rel=1e-5)
    outputs = built.forward({**{f"f{i:02d}": torch.tensor([1, 2]) for i in range(1, 9)}, "label": y})
    torch.testing.assert_close(outputs["y_pred"], torch.sigmoid(outputs["logit"]))


@pytest.mark.parametrize("change, message", [
    ({"ssr_block": "text"}, "ics_gate: expected false with ssr_block: text"),
    ({"ssr_block": "paper"}, "ssr_block: expected one of gated, text"),
    ({"expanded_view_dims": [32, 32]}, "expanded_view_dims: expected null, or with ssr_block: text"),
    ({"ssr_block": "text", "ics_gate": False, "expanded_view_dims": [8, 32]}, "each >= that layer's view_dims"),
    ({"ssr_block": "text", "ics_gate": False, "expanded_view_dims": [32]}, "one width per layer"),
    ({"filter_index_rule": "numpy"}, "filter_index_rule: expected one of torch, authors"),
    ({"weight_init": "keras"}, "weight_init: expected one of fuxictr, authors"),
    ({"embedding_norm": "field_norm"}, "embedding_norm: expected one of batch_norm, field_batch_norm"),
    ({"optimizer_epsilon": 0}, "optimizer_epsilon: expected a number > 0 or null"),
])
def test_fidelity_keys_are_checked(change, message):
    with pytest.raises(ValueError, match=message):
        create_model({**SSR_D, **change}, categorical_feature_map(4, 9))


def test_glorot_uniform_bounds():
    w = glorot_uniform_(torch.empty(300, 100), fan_in=300, fan_out=100)
    assert w.abs().max() <= math.sqrt(6 / 400) and w.abs().max() > 0.95 * math.sqrt(6 / 400)
