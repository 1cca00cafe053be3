"""Implicit sparsity of a trained model's dense layers.

For a weight matrix W (outputs x inputs) two statistics, as in the SSR paper's analysis:

* near-zero share: the fraction of entries with ``|w| < t * max|w|`` for thresholds ``t``;
* input concentration: the squared-weight mass of every input dimension ``m_j = sum_i w_ij^2``,
  sorted in decreasing order; the smallest fraction of input dimensions that holds ``mass_share``
  (80%) of the total. A dense layer that uses its inputs evenly needs about 80% of them; the paper
  reports ~4% for industrial CTR MLPs.
"""
import torch
from torch import nn

from fuxictr.pytorch.layers import FeatureEmbeddingDict

from ..layers import ViewwiseLinear

DEFAULT_THRESHOLDS = (1e-3, 1e-2, 5e-2)


def input_mass(weight):
    """Squared-weight mass per input dimension of an ``[out, in]`` matrix."""
    return weight.double().pow(2).sum(dim=0)


def concentration(mass, mass_share=0.8):
    """Smallest fraction of input dimensions whose mass reaches ``mass_share`` of the total."""
    ordered = torch.sort(mass, descending=True).values
    cumulative = torch.cumsum(ordered, 0) / ordered.sum()
    needed = int(torch.searchsorted(cumulative, torch.tensor(mass_share, dtype=cumulative.dtype)).item()) + 1
    return min(needed, len(mass)) / len(mass)


def weight_statistics(weight, thresholds=DEFAULT_THRESHOLDS, mass_share=0.8):
    """Near-zero shares and input concentration of one ``[out, in]`` weight matrix."""
    magnitude = weight.detach().abs().double()
    largest = magnitude.max()
    stats = {"shape": "x".join(map(str, weight.shape)), "weights": weight.numel()}
    for threshold in thresholds:
        stats[f"near_zero_{threshold:g}"] = (magnitude < threshold * largest).double().mean().item()
    stats[f"inputs_for_{mass_share:.0%}_mass"] = concentration(input_mass(weight.detach()), mass_share)
    return stats


def dense_weights(model):
    """``(name, [out, in] weight)`` of every dense layer outside the embedding tables.

    ``nn.Linear`` as it is; :class:`ViewwiseLinear` ``[b, in, out]`` as one ``[b*out, in]`` matrix
    (every view reads the same input positions of its own view vector).
    """
    embedding_modules = {id(m) for e in model.modules() if isinstance(e, FeatureEmbeddingDict)
                         for m in e.modules()}
    for name, module in model.named_modules():
        if id(module) in embedding_modules:
            continue
        if isinstance(module, nn.Linear):
            yield name, module.weight
        elif isinstance(module, ViewwiseLinear):
            views, inputs, outputs = module.weight.shape
            yield name, module.weight.permute(0, 2, 1).reshape(views * outputs, inputs)


def model_weight_table(model, thresholds=DEFAULT_THRESHOLDS, mass_share=0.8):
    """One row of :func:`weight_statistics` per dense layer of ``model``."""
    return [{"layer": name, **weight_statistics(weight, thresholds, mass_share)}
            for name, weight in dense_weights(model)]
