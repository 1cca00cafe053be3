import torch
from torch import nn
import torch.nn.functional as F

from .view_fusion import view_layer_norm
from .view_linear import ViewwiseLinear


class ProjectedViewFusion(nn.Module):
    """The paper text's fusion inside each view: one GELU dense layer, then a per-view LayerNorm,
    no residual (SSR paper, Eq. 6-8).

    .. math::
        z_i = \\mathrm{LN}_i\\big(\\mathrm{GELU}(h_i V_i + c_i)\\big), \\quad
        V_i \\in R^{d_v^* \\times d_v}

    ``d_v^*`` is the filter's (expanded) view width, ``d_v`` the layer's output width per view
    (equal for SSR-S). :class:`ResidualViewFusion` is the released code's form.

    Args:
        num_views: b.
        input_dim: d_v*, the filtered width per view.
        output_dim: d_v.
        layer_norm_eps: epsilon of the LayerNorm.

    Shape:
        input ``[B, b, d_v*]`` -> output ``[B, b, d_v]``.

    Example:
        >>> fuse = ProjectedViewFusion(num_views=4, input_dim=32, output_dim=16)
        >>> fuse(torch.randn(8, 4, 32)).shape
        torch.Size([8, 4, 16])
    """

    def __init__(self, num_views, input_dim, output_dim, layer_norm_eps=1e-5):
        super().__init__()
        self.dense = ViewwiseLinear(num_views, input_dim, output_dim)
        self.layer_norm_eps = layer_norm_eps
        self.norm_weight = nn.Parameter(torch.ones(num_views, output_dim))
        self.norm_bias = nn.Parameter(torch.zeros(num_views, output_dim))

    def forward(self, h, feature_major=False):
        v = F.gelu(self.dense(h, feature_major))
        return view_layer_norm(v, self.norm_weight, self.norm_bias, self.layer_norm_eps, feature_major)
