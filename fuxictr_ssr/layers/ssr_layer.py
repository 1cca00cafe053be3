from torch import nn

from .competitive_filter import CompetitiveFilter
from .static_random_filter import StaticRandomFilter
from .view_fusion import ResidualViewFusion


class MultiViewSSRLayer(nn.Module):
    """One SSR layer: filter a sparse subset of the input per view, fuse each view densely.

    .. math::
        z_i = \\mathrm{Fuse}_i(\\mathrm{Filter}_i(x)), \\quad
        y = [z_1; \\dots; z_b] \\ (\\text{concat}) \\quad\\text{or}\\quad
        y = \\tfrac{1}{b}\\sum_i z_i \\ (\\text{mean})

    Middle layers concatenate their views (the next layer filters that vector); the last layer
    averages them. All views run together: one gather or one projection matmul for the filter,
    batched matmuls for the fusion, no loop over views.

    Args:
        input_dim: d_in.
        num_views: b.
        view_dim: d_v.
        filter_type: ``"static"`` (:class:`StaticRandomFilter`, SSR-S) or ``"ics"``
            (:class:`CompetitiveFilter`, SSR-D).
        reduce: ``"concat"`` or ``"mean"``.
        fusion_layers: GELU dense layers in the residual fusion of each view.
        filter_seed: seed of the static index sets (static only).
        ics_iterations, alpha_init, gamma_init, gate: ICS settings (ics only).
        dropout: dropout rate on the layer's output.
        layer_norm_eps: epsilon of the per-view LayerNorm.

    Shape:
        input ``[B, d_in]`` -> output ``[B, b * d_v]`` (concat) or ``[B, d_v]`` (mean).

    Example:
        >>> import torch
        >>> layer = MultiViewSSRLayer(100, num_views=4, view_dim=32, filter_type="ics", reduce="mean")
        >>> layer(torch.randn(8, 100)).shape
        torch.Size([8, 32])
    """

    def __init__(self, input_dim, num_views, view_dim, filter_type="ics", reduce="concat",
                 fusion_layers=1, filter_seed=0, ics_iterations=5, alpha_init=0.1,
                 gamma_init=1.0, gate=True, dropout=0.0, layer_norm_eps=1e-5):
        super().__init__()
        if filter_type == "static":
            self.filter = StaticRandomFilter(input_dim, num_views, view_dim, seed=filter_seed)
        elif filter_type == "ics":
            self.filter = CompetitiveFilter(input_dim, num_views, view_dim, ics_iterations,
                                            alpha_init, gamma_init, gate)
        else:
            raise ValueError(f"filter_type must be 'static' or 'ics', got {filter_type!r}")
        if reduce not in ("concat", "mean"):
            raise ValueError(f"reduce must be 'concat' or 'mean', got {reduce!r}")
        self.fusion = ResidualViewFusion(num_views, view_dim, fusion_layers, layer_norm_eps)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.reduce = reduce
        self.output_dim = num_views * view_dim if reduce == "concat" else view_dim

    def forward(self, x):
        z = self.dropout(self.fusion(self.filter(x)))
        return z.flatten(1) if self.reduce == "concat" else z.mean(dim=1)
