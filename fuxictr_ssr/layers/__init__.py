"""Building blocks of SSR and of the scalable rivals (RankMixer, Wukong), one file each."""
from .competitive_filter import CompetitiveFilter
from .embedding_norm import EMBEDDING_NORMS, EmbeddingNorm
from .factorization_machine_block import FactorizationMachineBlock
from .field_group_tokenizer import FieldGroupTokenizer, split_fields
from .iterative_competitive_sparse import IterativeCompetitiveSparse
from .linear_compression_block import LinearCompressionBlock
from .projected_view_fusion import ProjectedViewFusion
from .rankmixer_block import RankMixerBlock
from .ssr_layer import SSR_BLOCKS, MultiViewSSRLayer
from .ssr_stack import SSRStack, feature_major_supported
from .straight_through_top_k import StraightThroughTopK
from .static_random_filter import INDEX_RULES, StaticRandomFilter, draw_view_indices, draw_view_indices_authors
from .token_mixing import MultiHeadTokenMixing
from .view_fusion import ResidualViewFusion
from .view_linear import ViewwiseLinear
from .warm_start_batch_norm import WarmStartBatchNorm1d, warm_start_batch_norms
from .wukong_layer import WuKongLayer

__all__ = ["EMBEDDING_NORMS", "INDEX_RULES", "SSR_BLOCKS", "CompetitiveFilter", "EmbeddingNorm", "FactorizationMachineBlock",
           "FieldGroupTokenizer", "IterativeCompetitiveSparse", "LinearCompressionBlock", "MultiHeadTokenMixing",
           "MultiViewSSRLayer", "ProjectedViewFusion", "RankMixerBlock", "ResidualViewFusion", "SSRStack", "StaticRandomFilter", "StraightThroughTopK", "ViewwiseLinear",
           "WarmStartBatchNorm1d", "warm_start_batch_norms", "WuKongLayer", "draw_view_indices", "draw_view_indices_authors",
           "feature_major_supported", "split_fields"]
