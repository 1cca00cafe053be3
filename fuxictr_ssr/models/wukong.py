"""Wukong (Meta, arXiv 2403.02545, ICML 2024): stacked factorization machines, a scaling rival of SSR."""
from torch import nn

from fuxictr.pytorch.layers import FeatureEmbedding, MLP_Block

from ..config import require_int_list, require_positive_int
from ..layers import WuKongLayer
from ..registry import register_model
from .checked_model import CheckedModel


@register_model
class WuKong(CheckedModel):
    """Wukong: L interaction layers over the field embeddings, then an MLP.

    Field embeddings ``X_0 [B, n, d]`` pass through ``num_layers``
    :class:`~fuxictr_ssr.layers.WuKongLayer` (FMB with ``fmb_units`` outputs of rank ``fmb_rank``
    and MLP ``fmb_mlp_units``, beside an LCB with ``lcb_units`` outputs; residual and LayerNorm);
    the last layer's ``[B, n_F + n_L, d]`` is flattened into the head MLP.

    Args (beyond BaseModel's):
        embedding_dim: d.
        num_layers: L.
        fmb_units: n_F.
        lcb_units: n_L.
        fmb_rank: k.
        fmb_mlp_units: hidden widths of each FMB's MLP.
        head_hidden_units: hidden widths of the head MLP.
        net_dropout: dropout in the FMB MLPs and the head.
    """

    def __init__(self, feature_map, model_id="WuKong", gpu=-1, learning_rate=1e-3, embedding_dim=16, num_layers=3,
                 fmb_units=40, lcb_units=40, fmb_rank=8, fmb_mlp_units=(512, 256), head_hidden_units=(256,),
                 net_dropout=0.0, embedding_regularizer=None, net_regularizer=None, **kwargs):
        self.check_params({**locals(), **kwargs})
        super().__init__(feature_map, model_id=model_id, gpu=gpu, embedding_regularizer=embedding_regularizer,
                         net_regularizer=net_regularizer, **kwargs)
        self.embedding_layer = FeatureEmbedding(feature_map, embedding_dim)
        layers, width = [], feature_map.num_fields
        for _ in range(num_layers):
            layers.append(WuKongLayer(width, embedding_dim, fmb_units, lcb_units, fmb_rank, fmb_mlp_units,
                                      net_dropout))
            width = layers[-1].num_outputs
        self.interaction_layers = nn.Sequential(*layers)
        self.head = MLP_Block(input_dim=width * embedding_dim, output_dim=1, hidden_units=list(head_hidden_units),
                              hidden_activations="ReLU", dropout_rates=net_dropout)
        self.finish_building(learning_rate, **kwargs)

    @classmethod
    def check_model_params(cls, p):
        for key in ("num_layers", "fmb_units", "lcb_units", "fmb_rank"):
            require_positive_int(p, key)
        require_int_list(p, "fmb_mlp_units", allow_empty=True)
        require_int_list(p, "head_hidden_units", allow_empty=True)

    def forward(self, inputs):
        X = self.get_inputs(inputs)
        interactions = self.interaction_layers(self.embedding_layer(X))
        return self.predictions(self.head(interactions.flatten(start_dim=1)))
