from torch import nn


class MultiHeadTokenMixing(nn.Module):
    """RankMixer's parameter-free multi-head token mixing, with as many heads as tokens.

    Every token is split into T heads of width D/T; new token h concatenates head h of every
    token:

    .. math::
        \\mathrm{Mix}(X)_h = [x_1^{(h)}; x_2^{(h)}; \\dots; x_T^{(h)}], \\quad
        x_t = [x_t^{(1)}; \\dots; x_t^{(T)}], \\; x_t^{(h)} \\in R^{D/T}

    (RankMixer, arXiv 2507.15551, Sec. 3.3; H = T keeps T tokens of width D, so the block's
    residual applies). It is a fixed permutation of the ``T * D`` entries: a transpose.

    Args:
        num_tokens: T (= the number of heads); ``token_dim`` must be divisible by it.

    Shape:
        input ``[B, T, D]`` -> output ``[B, T, D]``.

    Example:
        >>> import torch
        >>> mix = MultiHeadTokenMixing(num_tokens=2)
        >>> mix(torch.arange(8.).view(1, 2, 4)).tolist()
        [[[0.0, 1.0, 4.0, 5.0], [2.0, 3.0, 6.0, 7.0]]]
    """

    def __init__(self, num_tokens):
        super().__init__()
        self.num_tokens = num_tokens

    def forward(self, x):
        batch, tokens, width = x.shape
        heads = self.num_tokens
        heads_of_tokens = x.view(batch, tokens, heads, width // heads).transpose(1, 2)
        return heads_of_tokens.reshape(batch, heads, tokens * width // heads)

    def extra_repr(self):
        return f"num_tokens={self.num_tokens}"
