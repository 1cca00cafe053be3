from torch import nn

from .competitive_filter import CompetitiveFilter
from .projected_view_fusion import ProjectedViewFusion
from .static_random_filter import StaticRandomFilter
from .view_fusion import ResidualViewFusion

SSR_BLOCKS = ("gated", "text")
# filter_type -> the sparsifier of the learned filter (static: the fixed index sets instead)
LEARNED_FILTERS = {"ics": "ics", "topk": "topk", "dropout": "dropout", "dense": "none"}


class MultiViewSSRLayer(nn.Module):
    """One SSR layer: filter a sparse subset of the input per view, fuse each view densely.

    .. math::
        z_i = \\mathrm{Fuse}_i(\\mathrm{Filter}_i(x)), \\quad
        y = [z_1; \\dots; z_b] \\ (\\text{concat}) \\quad\\text{or}\\quad
        y = \\tfrac{1}{b}\\sum_i z_i \\ (\\text{mean})

    Middle layers concatenate their views (the next layer filters that vector); the last layer
    averages them. All views run together: one gather or one projection matmul for the filter,
    batched matmuls for the fusion, no loop over views.

    Two forms: ``block="gated"`` is the authors' released code (ICS map gating a value
    projection, residual GELU fusion: :class:`CompetitiveFilter`, :class:`ResidualViewFusion`);
    ``block="text"`` is the paper's Eq. 4-8 (no gate, the filter at an expanded width d_v*, one
    GELU projection to d_v without residual: :class:`ProjectedViewFusion`).

    Args:
        input_dim: d_in.
        num_views: b.
        view_dim: d_v.
        block: ``"gated"`` or ``"text"``.
        expanded_dim: d_v* of the text block's ICS filter (default d_v; static filters keep d_v).
        index_rule: how the static index sets are drawn (see :class:`StaticRandomFilter`).
        filter_type: ``"static"`` (:class:`StaticRandomFilter`, SSR-S) or ``"ics"``
            (:class:`CompetitiveFilter`, SSR-D); the paper's ablations: ``"topk"`` (the
            projection through :class:`StraightThroughTopK`), ``"dropout"`` (random zeros at
            ``filter_drop_rate`` instead of ICS's) and ``"dense"`` (no sparsifier).
        top_k: entries kept per view by ``"topk"``.
        filter_drop_rate: share of the projection ``"dropout"`` zeroes in training.
        learn_gamma: ICS learns gamma (``False``: fixed at ``gamma_init``).
        reduce: ``"concat"`` or ``"mean"``.
        fusion_layers: GELU dense layers in the residual fusion of each view (gated block).
        filter_seed: seed of the static index sets (static only).
        ics_iterations, alpha_init, gamma_init, gate: ICS settings (ics only; the text block has
            no gate).
        dropout: dropout rate on the layer's output.
        layer_norm_eps: epsilon of the per-view LayerNorm.

    ``feature_major=True`` runs the same function on transposed activations (``[d_in, B]`` in,
    ``[b * d_v, B]`` or ``[d_v, B]`` out, ``[b, d_v, B]`` between the blocks): every gather copies
    whole rows, the per-view matmuls read contiguous batches, the concat is a free reshape, and
    a compiler can fuse the elementwise chain along the batch. A stack of layers transposes once
    on entry and once on exit (``ssr_layout: feature_major`` of :class:`~fuxictr_ssr.models.SSR`).

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
                 gamma_init=1.0, gate=True, dropout=0.0, layer_norm_eps=1e-5, block="gated",
                 expanded_dim=None, index_rule="torch", top_k=None, learn_gamma=True,
                 filter_drop_rate=0.9):
        super().__init__()
        if block not in SSR_BLOCKS:
            raise ValueError(f"block must be one of {', '.join(SSR_BLOCKS)}, got {block!r}")
        filtered_dim = (expanded_dim or view_dim) if block == "text" and filter_type != "static" else view_dim
        if filter_type == "static":
            self.filter = StaticRandomFilter(input_dim, num_views, view_dim, seed=filter_seed, index_rule=index_rule)
        elif filter_type in LEARNED_FILTERS:
            self.filter = CompetitiveFilter(input_dim, num_views, filtered_dim, ics_iterations,
                                            alpha_init, gamma_init, gate and block == "gated",
                                            sparsifier=LEARNED_FILTERS[filter_type], top_k=top_k,
                                            learn_gamma=learn_gamma, drop_rate=filter_drop_rate)
        else:
            raise ValueError(f"filter_type must be 'static' or one of {', '.join(LEARNED_FILTERS)}, got {filter_type!r}")
        if reduce not in ("concat", "mean"):
            raise ValueError(f"reduce must be 'concat' or 'mean', got {reduce!r}")
        if block == "gated":
            self.fusion = ResidualViewFusion(num_views, view_dim, fusion_layers, layer_norm_eps)
        else:
            self.fusion = ProjectedViewFusion(num_views, filtered_dim, view_dim, layer_norm_eps)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.reduce = reduce
        self.output_dim = num_views * view_dim if reduce == "concat" else view_dim

    def forward(self, x, feature_major=False):
        z = self.dropout(self.fusion(self.filter(x, feature_major), feature_major))
        if feature_major:
            return z.reshape(-1, z.size(-1)) if self.reduce == "concat" else z.mean(dim=0)
        return z.flatten(1) if self.reduce == "concat" else z.mean(dim=1)
