import torch
from torch import nn
import torch.nn.functional as F

from .view_linear import ViewwiseLinear


class ResidualViewFusion(nn.Module):
    """Dense fusion inside each view: residual GELU MLP, then a per-view LayerNorm.

    .. math::
        z_i = \\mathrm{LN}_i\\big(h_i + g_k(\\cdots g_1(h_i))\\big), \\quad
        g_j(v) = \\mathrm{GELU}(v W_{ij} + c_{ij})

    With ``num_layers=0`` this is ``LN_i(h_i)``. Every view has its own weights and its own
    LayerNorm scale and shift.

    Args:
        num_views: b.
        view_dim: d_v (the fusion keeps the width).
        num_layers: k, GELU dense layers per view.
        layer_norm_eps: epsilon of the LayerNorm.

    Shape:
        input ``[B, b, d_v]`` -> output ``[B, b, d_v]``; ``feature_major=True``: ``[b, d_v, B]``.

    Example:
        >>> fuse = ResidualViewFusion(num_views=4, view_dim=16, num_layers=2)
        >>> fuse(torch.randn(8, 4, 16)).shape
        torch.Size([8, 4, 16])
    """

    def __init__(self, num_views, view_dim, num_layers=2, layer_norm_eps=1e-5):
        super().__init__()
        self.dense_layers = nn.ModuleList(
            ViewwiseLinear(num_views, view_dim, view_dim) for _ in range(num_layers))
        self.layer_norm_eps = layer_norm_eps
        self.norm_weight = nn.Parameter(torch.ones(num_views, view_dim))
        self.norm_bias = nn.Parameter(torch.zeros(num_views, view_dim))

    def forward(self, h, feature_major=False):
        v = h
        for dense in self.dense_layers:
            v = F.gelu(dense(v, feature_major))
        if self.dense_layers:
            v = h + v
        return view_layer_norm(v, self.norm_weight, self.norm_bias, self.layer_norm_eps, feature_major)


def view_layer_norm(v, weight, bias, eps, feature_major=False):
    """LayerNorm over each view's d_v entries with a per-view scale and shift ``[b, d_v]``: the
    last axis of ``[B, b, d_v]``, or axis 1 of feature-major ``[b, d_v, B]`` (written out there,
    since ``F.layer_norm`` normalises trailing axes only)."""
    if not feature_major:
        return torch.addcmul(bias, F.layer_norm(v, v.shape[-1:], eps=eps), weight)
    centred = v - v.mean(dim=1, keepdim=True)
    normed = centred * torch.rsqrt(centred.square().mean(dim=1, keepdim=True) + eps)
    return torch.addcmul(bias.unsqueeze(-1), normed, weight.unsqueeze(-1))
