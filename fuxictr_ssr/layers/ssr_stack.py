import torch
from torch import nn


def feature_major_supported():
    """torch 2.1's GELU backward is wrong on the CPU when the incoming gradient is strided
    differently from the activation, which is what the feature-major layout's transposes give
    (gradients off by O(1), measured; torch 2.2 computes them right)."""
    return torch.__version__ >= (2, 2)


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
        >>> stack = SSRStack(layers, feature_major=feature_major_supported())
        >>> stack(torch.randn(5, 40)).shape
        torch.Size([5, 8])
    """

    def __init__(self, layers, feature_major=False):
        if feature_major and not feature_major_supported():
            raise ValueError(f"ssr_layout: feature_major needs torch >= 2.2 (torch {torch.__version__}'s GELU "
                             "gradient is wrong for its transposed activations); use batch_major")
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
