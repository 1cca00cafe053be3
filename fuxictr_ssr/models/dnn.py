from fuxictr.pytorch.layers import FeatureEmbedding, MLP_Block

from ..config import require, require_int_list
from ..registry import register_model
from .checked_model import CheckedModel, flattened_embedding_dim


@register_model
class DNN(CheckedModel):
    """Plain deep CTR model: flattened field embeddings -> MLP -> logit, BARS parameter names.

    MLP block per hidden layer: Linear -> BatchNorm (if ``batch_norm``) -> activation -> Dropout.

    Args (beyond BaseModel's):
        embedding_dim: embedding size per field.
        hidden_units: MLP widths, e.g. ``[400, 400, 400]``.
        hidden_activations: activation name (``ReLU``) or one per layer.
        net_dropout: dropout after every hidden layer.
        batch_norm: BatchNorm after every hidden Linear.
    """

    def __init__(self, feature_map, model_id="DNN", gpu=-1, learning_rate=1e-3,
                 embedding_dim=10, hidden_units=(64, 64, 64), hidden_activations="ReLU",
                 net_dropout=0.0, batch_norm=False, embedding_regularizer=None,
                 net_regularizer=None, **kwargs):
        self.check_params({**locals(), **kwargs})
        super().__init__(feature_map, model_id=model_id, gpu=gpu,
                         embedding_regularizer=embedding_regularizer,
                         net_regularizer=net_regularizer, **kwargs)
        self.embedding_layer = FeatureEmbedding(feature_map, embedding_dim)
        self.mlp = MLP_Block(input_dim=flattened_embedding_dim(feature_map, embedding_dim), output_dim=1,
                             hidden_units=list(hidden_units), hidden_activations=hidden_activations,
                             dropout_rates=net_dropout, batch_norm=batch_norm)
        self.finish_building(learning_rate, **kwargs)

    @classmethod
    def check_model_params(cls, p):
        require_int_list(p, "hidden_units")
        require(isinstance(p["batch_norm"], bool), "batch_norm", "true or false", p["batch_norm"])

    def forward(self, inputs):
        X = self.get_inputs(inputs)
        feature_emb = self.embedding_layer(X, flatten_emb=True)
        return self.predictions(self.mlp(feature_emb))
