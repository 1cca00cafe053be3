"""Building blocks of SSR, one file each."""
from .competitive_filter import CompetitiveFilter
from .embedding_norm import EMBEDDING_NORMS, EmbeddingNorm
from .iterative_competitive_sparse import IterativeCompetitiveSparse
from .ssr_layer import MultiViewSSRLayer
from .static_random_filter import StaticRandomFilter, draw_view_indices
from .view_fusion import ResidualViewFusion
from .view_linear import ViewwiseLinear
from .warm_start_batch_norm import WarmStartBatchNorm1d

__all__ = ["EMBEDDING_NORMS", "CompetitiveFilter", "EmbeddingNorm", "IterativeCompetitiveSparse",
           "MultiViewSSRLayer", "ResidualViewFusion", "StaticRandomFilter", "ViewwiseLinear",
           "WarmStartBatchNorm1d", "draw_view_indices"]
