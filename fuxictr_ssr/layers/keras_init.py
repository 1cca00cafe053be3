"""Keras' default initialisers, for reproducing models released in Keras (the SSR authors')."""
import math

import torch
from torch import nn

# std of a standard normal truncated at +-2: Keras divides by it so the draw keeps the target std
_TRUNCATED_STD = 0.87962566103423978


def glorot_normal_(tensor, fan_in, fan_out):
    """Keras ``GlorotNormal``: truncated normal (at 2 std) of std ``sqrt(2 / (fan_in + fan_out))``.

    Example:
        >>> w = glorot_normal_(torch.empty(4000, 600), fan_in=4000, fan_out=600)
        >>> abs(w.std().item() / (2 / 4600) ** 0.5 - 1) < 0.02
        True
    """
    std = math.sqrt(2.0 / (fan_in + fan_out)) / _TRUNCATED_STD
    return nn.init.trunc_normal_(tensor, std=std, a=-2 * std, b=2 * std)


def glorot_uniform_(tensor, fan_in, fan_out):
    """Keras ``GlorotUniform`` (Dense's default kernel): U(+-sqrt(6 / (fan_in + fan_out)))."""
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    return nn.init.uniform_(tensor, -limit, limit)
