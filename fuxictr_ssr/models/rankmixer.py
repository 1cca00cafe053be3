"""RankMixer (ByteDance, arXiv 2507.15551, CIKM 2025): the SSR paper's main scalable rival."""
from torch import nn

from fuxictr.pytorch.layers import FeatureEmbedding, MLP_Block

from ..config import is_number, require, require_int_list, require_positive_int
from ..layers import FieldGroupTokenizer, RankMixerBlock, split_fields
from ..registry import register_model
from .checked_model import CheckedModel


@register_model
class RankMixer(CheckedModel):
    """RankMixer, dense version: field-group tokens, L blocks of token mixing + per-token FFN,
    mean over tokens, a head.

    Field embeddings ``[B, F, E]`` are cut into ``num_tokens`` groups of fields (``field_groups``,
    or the fields in feature-map order split as evenly as possible), each group projected to a
    token of width ``token_dim`` (:class:`~fuxictr_ssr.layers.FieldGroupTokenizer`); then
    ``num_blocks`` :class:`~fuxictr_ssr.layers.RankMixerBlock` (parameter-free mixing with as many
    heads as tokens, per-token FFN ``D -> k*D -> D``, each with residual and LayerNorm); the mean
    over tokens goes through the head MLP to the logit. The sparse-MoE variant of the paper is not
    implemented.

    Args (beyond BaseModel's):
        embedding_dim: E.
        num_tokens: T (also the number of mixing heads; at most the number of fields).
        token_dim: D, a multiple of T.
        num_blocks: L.
        ffn_expansion: k.
        net_dropout: dropout on each FFN output and in the head.
        head_hidden_units: hidden units of the head MLP (``[]``: one Linear).
        field_groups: optional list of T lists of feature names (default: fields in order).
        layer_norm_eps: epsilon of the LayerNorms.
    """

    def __init__(self, feature_map, model_id="RankMixer", gpu=-1, learning_rate=1e-3, embedding_dim=16,
                 num_tokens=8, token_dim=64, num_blocks=2, ffn_expansion=4, net_dropout=0.0, head_hidden_units=(),
                 field_groups=None, layer_norm_eps=1e-5, embedding_regularizer=None, net_regularizer=None, **kwargs):
        self.check_params({**locals(), **kwargs})
        super().__init__(feature_map, model_id=model_id, gpu=gpu, embedding_regularizer=embedding_regularizer,
                         net_regularizer=net_regularizer, **kwargs)
        self.embedding_layer = FeatureEmbedding(feature_map, embedding_dim)
        groups = token_groups(list(feature_map.features), num_tokens, field_groups)
        self.tokenizer = FieldGroupTokenizer(groups, embedding_dim, token_dim)
        self.blocks = nn.Sequential(*(RankMixerBlock(num_tokens, token_dim, ffn_expansion, net_dropout,
                                                     layer_norm_eps) for _ in range(num_blocks)))
        self.head = MLP_Block(input_dim=token_dim, output_dim=1, hidden_units=list(head_hidden_units),
                              hidden_activations="ReLU", dropout_rates=net_dropout)
        self.finish_building(learning_rate, **kwargs)

    @classmethod
    def check_model_params(cls, p):
        for key in ("num_tokens", "token_dim", "num_blocks", "ffn_expansion"):
            require_positive_int(p, key)
        require(p["token_dim"] % p["num_tokens"] == 0, "token_dim",
                f"a multiple of num_tokens ({p['num_tokens']}: one mixing head per token)", p["token_dim"])
        require_int_list(p, "head_hidden_units", allow_empty=True)
        groups = p["field_groups"]
        require(groups is None or (isinstance(groups, list) and len(groups) == p["num_tokens"]
                                   and all(isinstance(g, list) and g for g in groups)),
                "field_groups", f"null or a list of num_tokens ({p['num_tokens']}) non-empty lists of feature names",
                groups)
        require(is_number(p["layer_norm_eps"]) and p["layer_norm_eps"] > 0, "layer_norm_eps", "a number > 0",
                p["layer_norm_eps"])

    def forward(self, inputs):
        X = self.get_inputs(inputs)
        tokens = self.blocks(self.tokenizer(self.embedding_layer(X)))
        return self.predictions(self.head(tokens.mean(dim=1)))


def token_groups(feature_names, num_tokens, field_groups=None):
    """Field indices of each token: ``field_groups`` (feature names) checked against the feature
    map, or the fields in order split into ``num_tokens`` groups."""
    if field_groups is None:
        if num_tokens > len(feature_names):
            raise ValueError(f"num_tokens: expected at most the number of fields ({len(feature_names)}), "
                             f"got {num_tokens}")
        return split_fields(len(feature_names), num_tokens)
    index = {name: position for position, name in enumerate(feature_names)}
    unknown = [name for group in field_groups for name in group if name not in index]
    if unknown:
        raise ValueError(f"field_groups: unknown features {unknown}; the dataset has {feature_names}")
    names = [name for group in field_groups for name in group]
    if len(set(names)) != len(names):
        raise ValueError(f"field_groups: a feature appears in more than one group: {field_groups}")
    return [[index[name] for name in group] for group in field_groups]
