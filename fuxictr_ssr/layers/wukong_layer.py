import torch
from torch import nn

from .factorization_machine_block import FactorizationMachineBlock
from .linear_compression_block import LinearCompressionBlock


class WuKongLayer(nn.Module):
    """One Wukong interaction layer: FMB and LCB side by side, residual, LayerNorm.

    .. math::
        X_{i+1} = \\mathrm{LN}\\big([\\mathrm{FMB}(X_i); \\mathrm{LCB}(X_i)] + R(X_i)\\big)

    where the two blocks' outputs are stacked along the embedding axis (``n_F + n_L`` embeddings
    of width d), ``R`` is the identity when ``n_F + n_L = n`` and a linear recombination of the
    n embeddings (:class:`LinearCompressionBlock`) otherwise, and LN normalises each embedding's
    d entries (Wukong, arXiv 2403.02545, Sec. 3.1).

    Args:
        num_inputs: n.
        embedding_dim: d.
        fmb_units: n_F.
        lcb_units: n_L.
        fmb_rank: k of the FMB.
        fmb_mlp_units: hidden widths of the FMB's MLP.
        dropout: dropout rate inside the FMB's MLP.
        layer_norm_eps: epsilon of the LayerNorm.

    Shape:
        input ``[B, n, d]`` -> output ``[B, n_F + n_L, d]``.

    Example:
        >>> layer = WuKongLayer(num_inputs=10, embedding_dim=8, fmb_units=4, lcb_units=4, fmb_rank=3)
        >>> layer(torch.randn(2, 10, 8)).shape
        torch.Size([2, 8, 8])
    """

    def __init__(self, num_inputs, embedding_dim, fmb_units, lcb_units, fmb_rank=8, fmb_mlp_units=(),
                 dropout=0.0, layer_norm_eps=1e-5):
        super().__init__()
        self.fmb = FactorizationMachineBlock(num_inputs, embedding_dim, fmb_units, fmb_rank, fmb_mlp_units, dropout)
        self.lcb = LinearCompressionBlock(num_inputs, lcb_units)
        outputs = fmb_units + lcb_units
        self.residual = None if outputs == num_inputs else LinearCompressionBlock(num_inputs, outputs)
        self.norm = nn.LayerNorm(embedding_dim, eps=layer_norm_eps)
        self.num_outputs = outputs

    def forward(self, x):
        residual = x if self.residual is None else self.residual(x)
        return self.norm(torch.cat([self.fmb(x), self.lcb(x)], dim=1) + residual)
