import torch.nn.functional as F
from torch import nn

from .token_mixing import MultiHeadTokenMixing
from .view_linear import ViewwiseLinear


class RankMixerBlock(nn.Module):
    """One RankMixer block: token mixing, then a per-token FFN, each with residual and LayerNorm.

    .. math::
        S = \\mathrm{LN}(\\mathrm{Mix}(X) + X), \\quad
        X' = \\mathrm{LN}(\\mathrm{PFFN}(S) + S), \\quad
        \\mathrm{PFFN}(S)_t = \\mathrm{GELU}(s_t W_{t,1} + c_{t,1}) W_{t,2} + c_{t,2}

    (RankMixer, arXiv 2507.15551, Sec. 3.3-3.4). Token t has its own FFN ``D -> kD -> D``; all T
    FFNs run as one batched matmul per layer (:class:`ViewwiseLinear`, one view per token).
    Dropout (``dropout``) is applied to the FFN output before the residual.

    Args:
        num_tokens: T.
        token_dim: D (divisible by T).
        ffn_expansion: k.
        dropout: dropout rate on the FFN output.
        layer_norm_eps: epsilon of both LayerNorms.

    Shape:
        input ``[B, T, D]`` -> output ``[B, T, D]``.

    Example:
        >>> import torch
        >>> block = RankMixerBlock(num_tokens=4, token_dim=16, ffn_expansion=2)
        >>> block(torch.randn(8, 4, 16)).shape
        torch.Size([8, 4, 16])
    """

    def __init__(self, num_tokens, token_dim, ffn_expansion=4, dropout=0.0, layer_norm_eps=1e-5):
        super().__init__()
        if token_dim % num_tokens:
            raise ValueError(f"token_dim: expected a multiple of num_tokens ({num_tokens}), got {token_dim}")
        self.mixing = MultiHeadTokenMixing(num_tokens)
        self.mixing_norm = nn.LayerNorm(token_dim, eps=layer_norm_eps)
        self.ffn_in = ViewwiseLinear(num_tokens, token_dim, ffn_expansion * token_dim)
        self.ffn_out = ViewwiseLinear(num_tokens, ffn_expansion * token_dim, token_dim)
        self.dropout = nn.Dropout(dropout)
        self.ffn_norm = nn.LayerNorm(token_dim, eps=layer_norm_eps)

    def forward(self, x):
        s = self.mixing_norm(self.mixing(x) + x)
        return self.ffn_norm(self.dropout(self.ffn_out(F.gelu(self.ffn_in(s)))) + s)
