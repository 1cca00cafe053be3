from fuxictr.pytorch.layers import FactorizationMachine, FeatureEmbedding, MLP_Block

from ..config import require, require_int_list
from ..registry import register_model
from .checked_model import CheckedModel, flattened_embedding_dim


@register_model
class DeepFM(CheckedModel):
    """DeepFM: LR + FM + MLP over one shared embedding, summed before the sigmoid (BARS names).

    .. math::
        \\hat y = \\sigma\\big(w_0 + \\sum_f w_{x_f} + \\sum_{f<g} \\langle e_f, e_g \\rangle
        + \\mathrm{MLP}([e_1; \\dots; e_F])\\big)

    Args (beyond BaseModel's):
        embedding_dim: embedding size per field (shared by FM and MLP).
        hidden_units: MLP widths.
        hidden_activations: MLP activation.
        net_dropout: MLP dropout.
        batch_norm: BatchNorm in the MLP.
    """

    def __init__(self, feature_map, model_id="DeepFM", gpu=-1, learning_rate=1e-3,
                 embedding_dim=10, hidden_units=(64, 64, 64), hidden_activations="ReLU",
                 net_dropout=0.0, batch_norm=False, embedding_regularizer=None,
                 net_regularizer=None, **kwargs):
        self.check_params({**locals(), **kwargs})
        super().__init__(feature_map, model_id=model_id, gpu=gpu,
                         embedding_regularizer=embedding_regularizer,
                         net_regularizer=net_regularizer, **kwargs)
        self.embedding_layer = FeatureEmbedding(feature_map, embedding_dim)
        self.fm = FactorizationMachine(feature_map)
        self.mlp = MLP_Block(input_dim=flattened_embedding_dim(feature_map, embedding_dim),
                             output_dim=1, hidden_units=list(hidden_units),
                             hidden_activations=hidden_activations, dropout_rates=net_dropout,
                             batch_norm=batch_norm)
        self.finish_building(learning_rate, **kwargs)

    @classmethod
    def check_model_params(cls, p):
        require_int_list(p, "hidden_units")
        require(isinstance(p["batch_norm"], bool), "batch_norm", "true or false", p["batch_norm"])

    def forward(self, inputs):
        X = self.get_inputs(inputs)
        feature_emb = self.embedding_layer(X)
        logit = self.fm(X, feature_emb) + self.mlp(feature_emb.flatten(start_dim=1))
        return self.predictions(logit)
