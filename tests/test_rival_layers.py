"""RankMixer and Wukong blocks against plain references (loops over tokens, the explicit n x n FM),
outputs and gradients, plus one pinned output per block under a fixed seed."""
import pytest
import torch

from fuxictr_ssr.layers import (FactorizationMachineBlock, FieldGroupTokenizer, LinearCompressionBlock,
                                MultiHeadTokenMixing, RankMixerBlock, WuKongLayer, split_fields)
from reference import (fmb_reference, rankmixer_block_reference, token_mixing_reference, tokenizer_reference,
                       wukong_layer_reference)

TOL = dict(rtol=1e-5, atol=1e-6)


def assert_same_outputs_and_gradients(module, reference, x):
    x = x.clone().requires_grad_(True)
    out = module(x)
    expected = reference(module, x)
    torch.testing.assert_close(out, expected, **TOL)
    upstream = torch.randn_like(out)
    fast = torch.autograd.grad((out * upstream).sum(), [x] + list(module.parameters()))
    slow = torch.autograd.grad((expected * upstream).sum(), [x] + list(module.parameters()))
    for name, a, b in zip(["input"] + [n for n, _ in module.named_parameters()], fast, slow):
        torch.testing.assert_close(a, b, **TOL, msg=lambda m: f"{name}: {m}")


def test_split_fields_covers_every_field_once_in_order():
    for fields, tokens in [(10, 4), (39, 8), (3, 3), (7, 1)]:
        groups = split_fields(fields, tokens)
        assert len(groups) == tokens and sum(groups, []) == list(range(fields))
        assert max(map(len, groups)) - min(map(len, groups)) <= 1


def test_token_mixing_is_the_per_head_concatenation_and_a_permutation():
    torch.manual_seed(0)
    x = torch.randn(5, 4, 12)
    out = MultiHeadTokenMixing(4)(x)
    torch.testing.assert_close(out, token_mixing_reference(x), rtol=0, atol=0)
    assert torch.equal(out.flatten(start_dim=1).sort().values, x.flatten(start_dim=1).sort().values)


def test_tokenizer_matches_per_group_reference():
    torch.manual_seed(1)
    tokenizer = FieldGroupTokenizer([[0, 3], [1], [2, 4, 5]], embedding_dim=3, token_dim=6)
    assert_same_outputs_and_gradients(tokenizer, tokenizer_reference, torch.randn(4, 6, 3))


@pytest.mark.parametrize("tokens,width,expansion", [(4, 16, 2), (3, 9, 1), (1, 8, 4)])
def test_rankmixer_block_matches_per_token_reference(tokens, width, expansion):
    torch.manual_seed(2)
    block = RankMixerBlock(tokens, width, ffn_expansion=expansion)
    with torch.no_grad():  # non-trivial LayerNorm affine and biases
        for param in block.parameters():
            param.add_(0.1 * torch.randn_like(param))
    assert_same_outputs_and_gradients(block, rankmixer_block_reference, torch.randn(6, tokens, width))


def test_rankmixer_block_needs_token_dim_divisible_by_tokens():
    with pytest.raises(ValueError, match="token_dim: expected a multiple of num_tokens"):
        RankMixerBlock(num_tokens=3, token_dim=16)


def test_fmb_matches_the_explicit_pairwise_fm():
    torch.manual_seed(3)
    fmb = FactorizationMachineBlock(num_inputs=7, embedding_dim=5, num_outputs=3, rank=4, mlp_units=[16, 8])
    assert_same_outputs_and_gradients(fmb, fmb_reference, torch.randn(4, 7, 5))


@pytest.mark.parametrize("fmb_units,lcb_units", [(4, 3), (2, 2)])  # identity residual, projected residual
def test_wukong_layer_matches_reference(fmb_units, lcb_units):
    torch.manual_seed(4)
    layer = WuKongLayer(num_inputs=7, embedding_dim=5, fmb_units=fmb_units, lcb_units=lcb_units, fmb_rank=3,
                        fmb_mlp_units=[12])
    assert (layer.residual is None) == (fmb_units + lcb_units == 7)
    assert_same_outputs_and_gradients(layer, wukong_layer_reference, torch.randn(3, 7, 5))


def test_lcb_is_a_linear_recombination_of_embeddings():
    lcb = LinearCompressionBlock(num_inputs=3, num_outputs=2)
    with torch.no_grad():
        lcb.weight.copy_(torch.tensor([[1.0, 0.0, 2.0], [0.0, -1.0, 0.0]]))
    x = torch.arange(12.0).view(1, 3, 4)
    torch.testing.assert_close(lcb(x), torch.stack([x[0, 0] + 2 * x[0, 2], -x[0, 1]]).unsqueeze(0))


PINNED = {
    "rankmixer": [[[1.252637, -0.679708, 0.663468, -1.236398], [1.047506, -0.077296, -1.586486, 0.616276]]],
    "wukong": [[[0.186975, -1.307466, 1.120491], [-1.402802, 0.546147, 0.856655], [0.641218, -1.412221, 0.771004]]],
}


def pinned_outputs():
    torch.manual_seed(1234)
    block = RankMixerBlock(num_tokens=2, token_dim=4, ffn_expansion=2)
    rankmixer = block(torch.randn(1, 2, 4)).detach()
    torch.manual_seed(1234)
    layer = WuKongLayer(num_inputs=3, embedding_dim=3, fmb_units=2, lcb_units=1, fmb_rank=2, fmb_mlp_units=[4])
    wukong = layer(torch.randn(1, 3, 3)).detach()
    return {"rankmixer": rankmixer, "wukong": wukong}


@pytest.mark.parametrize("block", ["rankmixer", "wukong"])
def test_pinned_output(block):
    torch.testing.assert_close(pinned_outputs()[block], torch.tensor(PINNED[block]), rtol=1e-4, atol=1e-5)
