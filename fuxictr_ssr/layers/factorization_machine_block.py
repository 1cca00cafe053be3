import math

import torch
from torch import nn


class FactorizationMachineBlock(nn.Module):
    """Wukong's FMB: low-rank pairwise interactions of the embeddings, through an MLP, to n_F
    new embeddings.

    .. math::
        \\mathrm{FM}(X) = X (X^\\top Y) = (X X^\\top) Y \\in R^{n \\times k}, \\quad
        \\mathrm{FMB}(X) = \\mathrm{reshape}_{n_F \\times d}\\,
        \\mathrm{MLP}(\\mathrm{LN}(\\mathrm{flatten}(\\mathrm{FM}(X))))

    with a learnable :math:`Y \\in R^{n \\times k}` (Wukong, arXiv 2403.02545, Sec. 3.2: the
    optimised FM that never forms the ``n x n`` interaction matrix ``X X^T``). The MLP is
    ``Linear -> ReLU -> Dropout`` per hidden layer, then a Linear to ``n_F * d``.

    Args:
        num_inputs: n, embeddings in.
        embedding_dim: d.
        num_outputs: n_F, embeddings out.
        rank: k.
        mlp_units: hidden widths of the MLP.
        dropout: dropout rate after every hidden layer.

    Shape:
        input ``[B, n, d]`` -> output ``[B, n_F, d]``. Parameter ``projection [n, k]`` is Y.

    Example:
        >>> fmb = FactorizationMachineBlock(num_inputs=10, embedding_dim=8, num_outputs=6, rank=4, mlp_units=[32])
        >>> fmb(torch.randn(4, 10, 8)).shape
        torch.Size([4, 6, 8])
    """

    def __init__(self, num_inputs, embedding_dim, num_outputs, rank=8, mlp_units=(), dropout=0.0):
        super().__init__()
        self.num_outputs, self.embedding_dim = num_outputs, embedding_dim
        self.projection = nn.Parameter(torch.empty(num_inputs, rank))
        self.norm = nn.LayerNorm(num_inputs * rank)
        layers, width = [], num_inputs * rank
        for units in mlp_units:
            layers += [nn.Linear(width, units), nn.ReLU(), nn.Dropout(dropout)]
            width = units
        layers.append(nn.Linear(width, num_outputs * embedding_dim))
        self.mlp = nn.Sequential(*layers)
        self.init_weights()

    def init_weights(self):
        inputs, rank = self.projection.shape
        nn.init.normal_(self.projection, std=math.sqrt(2.0 / (inputs + rank)))

    def forward(self, x):
        interactions = torch.bmm(x, torch.matmul(x.transpose(1, 2), self.projection))  # [B, n, k]
        out = self.mlp(self.norm(interactions.flatten(start_dim=1)))
        return out.view(-1, self.num_outputs, self.embedding_dim)
