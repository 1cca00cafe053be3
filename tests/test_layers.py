import io

import pytest
import torch

from fuxictr_ssr.layers import (IterativeCompetitiveSparse, MultiViewSSRLayer, StaticRandomFilter,
                                StraightThroughTopK, ViewwiseLinear)
from helpers import needs_feature_major
from reference import ics_reference, ssr_layer_reference

TOL = dict(rtol=1e-5, atol=1e-6)


def grads(tensors):
    return [t.grad.clone() for t in tensors]


def zero_grads(module, x):
    module.zero_grad()
    x.grad = None


# ---------------------------------------------------------------- StaticRandomFilter

def test_static_filter_matches_per_view_indexing():
    torch.manual_seed(0)
    f = StaticRandomFilter(input_dim=40, num_views=5, view_dim=12, seed=3)
    x = torch.randn(7, 40, requires_grad=True)
    out = f(x)
    expected = torch.stack([x[:, f.indices[i]] for i in range(5)], dim=1)
    torch.testing.assert_close(out, expected, rtol=0, atol=0)
    upstream = torch.randn_like(out)
    (out * upstream).sum().backward()
    fast_grad = x.grad.clone()
    x.grad = None
    (expected * upstream).sum().backward()
    torch.testing.assert_close(fast_grad, x.grad, **TOL)


def test_static_filter_draws_distinct_indices_per_view():
    f = StaticRandomFilter(input_dim=50, num_views=6, view_dim=50, seed=1)
    assert f.indices.shape == (6, 50)
    for view in f.indices:
        assert len(set(view.tolist())) == 50
        assert view.min() >= 0 and view.max() < 50
    narrow = StaticRandomFilter(input_dim=50, num_views=6, view_dim=20, seed=1)
    assert all(len(set(view.tolist())) == 20 for view in narrow.indices)


def test_static_filter_wider_than_input_repeats_whole_permutations():
    f = StaticRandomFilter(input_dim=10, num_views=2, view_dim=25, seed=0)
    for view in f.indices:
        counts = torch.bincount(view, minlength=10)
        assert counts.min() >= 2 and counts.max() <= 3
        assert len(set(view[:10].tolist())) == 10


def test_static_filter_indices_stable_and_restored_from_state_dict():
    f = StaticRandomFilter(input_dim=64, num_views=4, view_dim=16, seed=11)
    x = torch.randn(3, 64)
    first = f(x)
    torch.testing.assert_close(f(x), first, rtol=0, atol=0)
    buffer = io.BytesIO()
    torch.save(f.state_dict(), buffer)
    buffer.seek(0)
    restored = StaticRandomFilter(input_dim=64, num_views=4, view_dim=16, seed=999)
    assert not torch.equal(restored.indices, f.indices)
    restored.load_state_dict(torch.load(buffer))
    assert torch.equal(restored.indices, f.indices)
    torch.testing.assert_close(restored(x), first, rtol=0, atol=0)


def test_static_filter_seed_decides_subsets():
    a = StaticRandomFilter(input_dim=100, num_views=4, view_dim=10, seed=1)
    b = StaticRandomFilter(input_dim=100, num_views=4, view_dim=10, seed=2)
    same_seed = StaticRandomFilter(input_dim=100, num_views=4, view_dim=10, seed=1)
    assert torch.equal(a.indices, same_seed.indices)
    assert not torch.equal(a.indices, b.indices)
    assert any(set(a.indices[i].tolist()) != set(b.indices[i].tolist()) for i in range(4))


# ---------------------------------------------------------------- ICS

def make_ics(iterations, alpha=0.1, views=3, dim=16):
    torch.manual_seed(5)
    ics = IterativeCompetitiveSparse(views, dim, iterations, alpha_init=alpha)
    with torch.no_grad():  # distinct alphas and gammas, so a mix-up of views or steps shows
        ics.alpha.add_(0.05 * torch.rand_like(ics.alpha))
        ics.gamma.add_(0.5 * torch.randn_like(ics.gamma))
    return ics


def test_ics_matches_reference_outputs_and_gradients():
    ics = make_ics(iterations=4, alpha=0.3)
    u = torch.randn(6, 3, 16, requires_grad=True)
    upstream = torch.randn(6, 3, 16)
    fast = ics(u)
    (fast * upstream).sum().backward()
    fast_grads = grads([u, ics.alpha, ics.gamma])
    zero_grads(ics, u)
    slow = ics_reference(u, ics.alpha, ics.gamma)
    (slow * upstream).sum().backward()
    torch.testing.assert_close(fast, slow, **TOL)
    for g_fast, g_slow in zip(fast_grads, grads([u, ics.alpha, ics.gamma])):
        torch.testing.assert_close(g_fast, g_slow, **TOL)


def test_ics_hand_computed_example():
    # a0 = ReLU([3, 1, -1, 0]) = [3, 1, 0, 0], mean 1 -> a1 = ReLU(a0 - 0.5) = [2.5, 0.5, 0, 0],
    # mean 0.75 -> a2 = ReLU(a1 - 0.375) = [2.125, 0.125, 0, 0]
    ics = IterativeCompetitiveSparse(num_views=1, view_dim=4, iterations=2, alpha_init=0.5, gamma_init=1.0)
    out = ics(torch.tensor([[[3.0, 1.0, -1.0, 0.0]]]))
    torch.testing.assert_close(out, torch.tensor([[[2.125, 0.125, 0.0, 0.0]]]), rtol=0, atol=0)


def test_ics_produces_exact_zeros_beyond_relu():
    u = torch.randn(256, 3, 16)
    relu_zeros = (torch.relu(u) == 0).float().mean()
    ics_zeros = (make_ics(iterations=5, alpha=1.0)(u) == 0).float().mean()
    assert ics_zeros > relu_zeros + 0.05


def test_ics_survivors_never_increase_with_iterations():
    u = torch.randn(128, 3, 16)
    survivors = []
    for iterations in range(7):
        ics = IterativeCompetitiveSparse(3, 16, iterations, alpha_init=0.5)
        alive = ics(u) != 0
        if survivors:
            assert not (alive & ~survivors[-1]).any(), "a zeroed entry came back"
        survivors.append(alive)
    assert survivors[-1].sum() < survivors[0].sum()


def test_ics_gradients_reach_alpha_gamma_and_input():
    ics = make_ics(iterations=3, alpha=0.2)
    u = torch.randn(32, 3, 16, requires_grad=True)
    (ics(u) * torch.randn(32, 3, 16)).sum().backward()
    for tensor in (u, ics.alpha, ics.gamma):
        assert tensor.grad is not None and tensor.grad.abs().sum() > 0
    assert (ics.alpha.grad != 0).all()


def test_ics_without_iterations_is_scaled_relu():
    ics = make_ics(iterations=0)
    assert ics.alpha.shape == (0, 3)
    u = torch.randn(5, 3, 16)
    torch.testing.assert_close(ics(u), torch.relu(u) * ics.gamma, rtol=0, atol=0)


# ---------------------------------------------------------------- batched fusion pieces

def test_viewwise_linear_matches_per_view_matmul():
    torch.manual_seed(2)
    lin = ViewwiseLinear(num_views=4, input_dim=8, output_dim=5)
    with torch.no_grad():
        lin.bias.normal_()
    x = torch.randn(9, 4, 8)
    expected = torch.stack([x[:, i] @ lin.weight[i] + lin.bias[i] for i in range(4)], dim=1)
    torch.testing.assert_close(lin(x), expected, **TOL)


# ---------------------------------------------------------------- whole SSR layer

LAYER_CASES = [
    dict(filter_type="static", reduce="concat", fusion_layers=2),
    dict(filter_type="static", reduce="mean", fusion_layers=0),
    dict(filter_type="ics", reduce="concat", fusion_layers=1, gate=True),
    dict(filter_type="ics", reduce="mean", fusion_layers=2, gate=False),
    dict(filter_type="ics", reduce="concat", fusion_layers=0, gate=False, block="text", expanded_dim=20),
    dict(filter_type="static", reduce="mean", fusion_layers=0, block="text"),
    dict(filter_type="topk", reduce="concat", fusion_layers=1, top_k=3),
    dict(filter_type="dense", reduce="mean", fusion_layers=1, gate=False),
]


def build_layer(case, input_dim=48, views=4, view_dim=12):
    torch.manual_seed(0)
    layer = MultiViewSSRLayer(input_dim, views, view_dim, filter_seed=17, ics_iterations=3,
                              alpha_init=0.2, **case)
    with torch.no_grad():  # move every parameter off its init so a view mix-up cannot hide
        for param in layer.parameters():
            param.add_(0.1 * torch.randn_like(param))
    return layer


def case_id(case):
    return f"{case['filter_type']}-{case['reduce']}-k{case['fusion_layers']}-{case.get('block', 'gated')}"


@pytest.mark.parametrize("case", LAYER_CASES, ids=case_id)
def test_ssr_layer_matches_per_view_reference(case):
    layer = build_layer(case)
    x = torch.randn(10, 48, requires_grad=True)
    params = [x] + list(layer.parameters())
    fast = layer(x)
    assert fast.shape == (10, 4 * 12 if case["reduce"] == "concat" else 12)
    upstream = torch.randn_like(fast)
    (fast * upstream).sum().backward()
    fast_grads = grads(params)
    zero_grads(layer, x)
    slow = ssr_layer_reference(layer, x)
    (slow * upstream).sum().backward()
    torch.testing.assert_close(fast, slow, **TOL)
    for g_fast, g_slow in zip(fast_grads, grads(params)):
        torch.testing.assert_close(g_fast, g_slow, rtol=1e-4, atol=1e-5)


# Pinned outputs: a fixed seed must keep giving these numbers (guards init order, index draws
# and the op sequence against silent changes).
PINNED = {
    "static": [[-0.873418, -0.282586, 0.458347, 0.697657], [0.003325, 0.171703, -0.169102, -0.005925]],
    "ics": [[0.632158, -1.330128, -0.095028, 0.792998], [-0.078581, -0.535498, -0.015880, 0.629960]],
    "ics-text": [[0.155060, 0.396179, 0.411808, -0.963047], [0.147080, 0.583800, -1.622374, 0.891495]],
}
TEXT_BLOCK = dict(block="text", gate=False, expanded_dim=6)


@pytest.mark.parametrize("filter_type", ["static", "ics", "ics-text"])
def test_ssr_layer_pinned_output(filter_type):
    torch.manual_seed(1234)
    layer = MultiViewSSRLayer(16, num_views=2, view_dim=4, filter_type=filter_type.split("-")[0],
                              reduce="mean", fusion_layers=1, filter_seed=5, ics_iterations=2,
                              **(TEXT_BLOCK if filter_type.endswith("text") else {}))
    x = torch.randn(2, 16)
    out = layer(x).detach()
    torch.testing.assert_close(out, torch.tensor(PINNED[filter_type]), rtol=1e-4, atol=1e-5)


def test_straight_through_top_k_keeps_k_and_passes_every_gradient():
    torch.manual_seed(3)
    top = StraightThroughTopK(view_dim=10, k=3)
    u = torch.randn(5, 2, 10, requires_grad=True)
    out = top(u)
    assert ((out != 0).sum(dim=-1) == 3).all()
    kept = out.detach().masked_fill(out == 0, float("-inf")).topk(3, dim=-1).values
    torch.testing.assert_close(kept, u.detach().topk(3, dim=-1).values, rtol=0, atol=0)  # the 3 largest, unchanged
    upstream = torch.randn_like(out)
    (out * upstream).sum().backward()
    torch.testing.assert_close(u.grad, upstream, rtol=0, atol=0)  # identity, dropped entries included
    with pytest.raises(ValueError, match="k must be in"):
        StraightThroughTopK(view_dim=4, k=5)


@needs_feature_major
@pytest.mark.parametrize("case", LAYER_CASES, ids=case_id)
def test_the_feature_major_layout_is_the_same_function(case):
    layer = build_layer(case)
    x = torch.randn(10, 48, requires_grad=True)
    params = [x] + list(layer.parameters())
    upstream = torch.randn(10, 4 * 12 if case["reduce"] == "concat" else 12)
    batch_major = layer(x)
    (batch_major * upstream).sum().backward()
    batch_major_grads = grads(params)
    zero_grads(layer, x)
    feature_major = layer(x.t(), feature_major=True)
    assert feature_major.shape == batch_major.shape[::-1]
    (feature_major.t() * upstream).sum().backward()
    torch.testing.assert_close(feature_major.t(), batch_major, **TOL)
    torch.testing.assert_close(feature_major.t(), ssr_layer_reference(layer, x), **TOL)
    for fast, slow in zip(grads(params), batch_major_grads):
        # float32 sums in another order: both layouts are this close to the float64 gradient
        torch.testing.assert_close(fast, slow, rtol=1e-5, atol=1e-6 * float(slow.abs().max()))


def test_the_dropout_filter_zeroes_its_rate_in_training_and_nothing_in_evaluation():
    layer = build_layer(dict(filter_type="dropout", reduce="concat", fusion_layers=1, filter_drop_rate=0.75))
    x = torch.randn(400, 48)
    torch.manual_seed(5)
    u = layer.filter.projection(x).view(400, 2, 4, 12)[:, 0]
    sparse = layer.filter.sparsify(u)
    zero_share = float((sparse == 0).float().mean())
    assert abs(zero_share - 0.75) < 0.02, zero_share
    kept = sparse != 0
    torch.testing.assert_close(sparse[kept], u[kept] / 0.25)  # inverted dropout keeps the expectation
    layer.eval()
    torch.testing.assert_close(layer(x), ssr_layer_reference(layer, x), **TOL)  # evaluation: the dense filter


def test_ics_without_learned_gamma_keeps_it_fixed():
    ics = IterativeCompetitiveSparse(num_views=2, view_dim=4, iterations=2, gamma_init=1.0, learn_gamma=False)
    assert [name for name, _ in ics.named_parameters()] == ["alpha"] and torch.equal(ics.gamma, torch.ones(2, 4))
    assert "gamma" in ics.state_dict()


def test_layer_rejects_unknown_filter_and_reduce():
    with pytest.raises(ValueError, match="filter_type"):
        MultiViewSSRLayer(8, 2, 4, filter_type="lsh")
    with pytest.raises(ValueError, match="reduce"):
        MultiViewSSRLayer(8, 2, 4, reduce="sum")
