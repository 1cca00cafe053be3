import math

import torch
from torch import nn


class LinearCompressionBlock(nn.Module):
    """Wukong's LCB: new embeddings as linear combinations of the input embeddings.

    .. math::
        \\mathrm{LCB}(X) = W X, \\quad W \\in R^{n_L \\times n}, \\; X \\in R^{n \\times d}

    (Wukong, arXiv 2403.02545, Sec. 3.3). Also the residual projection of a Wukong layer whose
    output count differs from its input count.

    Args:
        num_inputs: n, embeddings in.
        num_outputs: n_L, embeddings out.

    Shape:
        input ``[B, n, d]`` -> output ``[B, n_L, d]``. Parameter: ``weight [n_L, n]``.

    Example:
        >>> lcb = LinearCompressionBlock(num_inputs=10, num_outputs=6)
        >>> lcb(torch.randn(4, 10, 8)).shape
        torch.Size([4, 6, 8])
    """

    def __init__(self, num_inputs, num_outputs):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(num_outputs, num_inputs))
        self.init_weights()

    def init_weights(self):
        outputs, inputs = self.weight.shape
        nn.init.normal_(self.weight, std=math.sqrt(2.0 / (inputs + outputs)))  # Xavier-normal, as fuxictr's Linear

    def forward(self, x):
        return torch.matmul(self.weight, x)

    def extra_repr(self):
        outputs, inputs = self.weight.shape
        return f"num_inputs={inputs}, num_outputs={outputs}"
