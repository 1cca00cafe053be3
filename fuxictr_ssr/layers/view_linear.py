import math

import torch
from torch import nn


class ViewwiseLinear(nn.Module):
    """One independent dense layer per view, all views in one batched matmul.

    The matmul runs view-major (``baddbmm`` on ``x.transpose(0, 1)``, bias fused) and returns a
    ``[B, b, d_out]`` view of the ``[b, B, d_out]`` result: elementwise ops that follow keep that
    layout, so a chain of these layers never copies between them (``einsum``'s backward did).

    .. math::
        y_i = x_i W_i + c_i, \\quad W_i \\in R^{d_{in} \\times d_{out}}, \\quad i = 1..b

    Weights are initialised like FuxiCTR initialises ``nn.Linear`` (Xavier-normal per view, zero
    bias), since FuxiCTR's ``reset_parameters`` only reaches ``nn.Linear`` modules itself.

    Args:
        num_views: b.
        input_dim: d_in of every view.
        output_dim: d_out of every view.
        bias: add a per-view bias.

    Shape:
        input ``[B, b, d_in]`` -> output ``[B, b, d_out]``; with ``feature_major=True``
        ``[b, d_in, B]`` -> ``[b, d_out, B]`` (``W_i^T h_i``: the batch is the matmul's contiguous
        inner dimension, see :class:`MultiViewSSRLayer`).
        Parameters: ``weight [b, d_in, d_out]``, ``bias [b, d_out]``.

    Example:
        >>> lin = ViewwiseLinear(num_views=4, input_dim=16, output_dim=8)
        >>> lin(torch.randn(32, 4, 16)).shape
        torch.Size([32, 4, 8])
    """

    def __init__(self, num_views, input_dim, output_dim, bias=True):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(num_views, input_dim, output_dim))
        self.bias = nn.Parameter(torch.empty(num_views, output_dim)) if bias else None
        self.init_weights()

    def init_weights(self):
        num_views, input_dim, output_dim = self.weight.shape
        nn.init.normal_(self.weight, std=math.sqrt(2.0 / (input_dim + output_dim)))
        if self.bias is not None:
            nn.init.zeros_(self.bias)

    def forward(self, x, feature_major=False):
        if feature_major:
            weight = self.weight.transpose(1, 2)
            return torch.bmm(weight, x) if self.bias is None else torch.baddbmm(self.bias.unsqueeze(-1), weight, x)
        x_view_major = x.transpose(0, 1)
        if self.bias is None:
            return torch.bmm(x_view_major, self.weight).transpose(0, 1)
        return torch.baddbmm(self.bias.unsqueeze(1), x_view_major, self.weight).transpose(0, 1)

    def extra_repr(self):
        num_views, input_dim, output_dim = self.weight.shape
        return f"num_views={num_views}, input_dim={input_dim}, output_dim={output_dim}, bias={self.bias is not None}"
