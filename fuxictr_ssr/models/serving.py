"""A trained model as a serving graph: one named input per feature, the click probability out.

FuxiCTR models take one dict of tensors; exporters and servers want positional, typed inputs.
:class:`NamedInputModel` puts the dict back together from the inputs in feature-map order, so
ONNX and TorchScript graphs take ``f01, f02, ...`` (categorical ids ``int64 [batch]``, sequence
ids ``int64 [batch, max_len]``, numerics ``float32 [batch]``) and return ``float32 [batch, 1]``.
"""
import torch
from torch import nn

INPUT_TYPES = ("categorical", "sequence", "numeric")


def serving_inputs(feature_map):
    """``[(name, spec), ...]``: the features a forward reads, in feature-map order (``meta``
    columns such as gAUC's group id are not model inputs)."""
    inputs = [(name, spec) for name, spec in feature_map.features.items() if spec["type"] != "meta"]
    unsupported = [f"{name} ({spec['type']})" for name, spec in inputs if spec["type"] not in INPUT_TYPES]
    if unsupported:
        raise ValueError(f"feature_cols: serving inputs of {unsupported} are not supported "
                         f"(types: {', '.join(INPUT_TYPES)})")
    return inputs


def example_inputs(feature_map, batch_size, seed=0):
    """Random valid inputs for ``batch_size`` rows: ids over each whole vocabulary (padding and OOV
    included), sequences with padding at their ends, standard-normal numerics."""
    generator = torch.Generator().manual_seed(seed)
    tensors = []
    for _, spec in serving_inputs(feature_map):
        if spec["type"] == "numeric":
            tensors.append(torch.randn(batch_size, generator=generator))
            continue
        shape = (batch_size, spec["max_len"]) if spec["type"] == "sequence" else (batch_size,)
        ids = torch.randint(0, spec["vocab_size"], shape, generator=generator)
        if spec["type"] == "sequence":  # a random length per row, padded with 0 after it
            lengths = torch.randint(1, spec["max_len"] + 1, (batch_size, 1), generator=generator)
            ids = ids.masked_fill(torch.arange(spec["max_len"]) >= lengths, 0)
        tensors.append(ids)
    return tuple(tensors)


class NamedInputModel(nn.Module):
    """``model`` taking its features as positional tensors in :func:`serving_inputs` order."""

    def __init__(self, model, feature_map):
        super().__init__()
        self.model = model
        self.names = [name for name, _ in serving_inputs(feature_map)]

    def forward(self, *features):
        return self.model.forward(dict(zip(self.names, features)))["y_pred"]
