from torch import nn


class SSRStack(nn.Sequential):
    """The SSR layers of a model, run in one of two layouts of the same function.

    ``feature_major=False``: each :class:`MultiViewSSRLayer` reads and writes ``[B, features]``.
    ``feature_major=True``: the stack transposes its input once, every layer runs on
    ``[features, B]`` (views as ``[b, d_v, B]``), and the output is transposed back once, so the
    batch is the contiguous axis of every gather, per-view matmul and elementwise op inside.

    A subclass of ``nn.Sequential`` so that the state-dict names (``0.filter...``) and
    checkpoints are the same in both layouts.

    Shape:
        input ``[B, d_in]`` -> output ``[B, d_out]`` of the last layer, in both layouts.

    Example:
        >>> import torch
        >>> from fuxictr_ssr.layers import MultiViewSSRLayer
        >>> layers = [MultiViewSSRLayer(40, 2, 8), MultiViewSSRLayer(16, 2, 8, reduce="mean")]
        >>> stack = SSRStack(layers, feature_major=True)
        >>> stack(torch.randn(5, 40)).shape
        torch.Size([5, 8])
    """

    def __init__(self, layers, feature_major=False):
        super().__init__(*layers)
        self.feature_major = feature_major

    def forward(self, x):
        if not self.feature_major:
            return super().forward(x)
        x = x.t()
        for layer in self:
            x = layer(x, feature_major=True)
        return x.t()

    def extra_repr(self):
        return f"feature_major={self.feature_major}"
