import torch
from torch import nn

from fuxictr.pytorch.layers import CrossNetMix, CrossNetV2, FeatureEmbedding, MLP_Block

from ..config import require, require_choice, require_int_list, require_positive_int
from ..registry import register_model
from .checked_model import CheckedModel, flattened_embedding_dim

STRUCTURES = ("parallel", "stacked", "stacked_parallel", "crossnet_only")


@register_model
class DCNv2(CheckedModel):
    """DCN-V2: a cross network beside (or before) an MLP, BARS parameter names.

    Cross layer (full rank): :math:`x_{l+1} = x_0 \\odot (W_l x_l + b_l) + x_l`; with
    ``use_low_rank_mixture`` the mixture of low-rank experts (fuxictr's ``CrossNetMix``).

    ``model_structure``:
      * ``parallel``: ``[CrossNet(x0); MLP(x0)] -> Linear``  (BARS x1 setting)
      * ``stacked``: ``MLP(CrossNet(x0)) -> Linear``
      * ``stacked_parallel``: ``[MLP_stacked(CrossNet(x0)); MLP_parallel(x0)] -> Linear``
      * ``crossnet_only``: ``CrossNet(x0) -> Linear``

    Args (beyond BaseModel's):
        embedding_dim: embedding size per field.
        num_cross_layers: cross layers.
        stacked_dnn_hidden_units, parallel_dnn_hidden_units: MLP widths per structure.
        dnn_activations, net_dropout, batch_norm: MLP settings.
        use_low_rank_mixture, low_rank, num_experts: low-rank mixture cross network.
    """

    def __init__(self, feature_map, model_id="DCNv2", gpu=-1, learning_rate=1e-3,
                 embedding_dim=10, model_structure="parallel", num_cross_layers=3,
                 stacked_dnn_hidden_units=(), parallel_dnn_hidden_units=(400, 400, 400),
                 dnn_activations="ReLU", net_dropout=0.0, batch_norm=False,
                 use_low_rank_mixture=False, low_rank=32, num_experts=4,
                 embedding_regularizer=None, net_regularizer=None, **kwargs):
        self.check_params({**locals(), **kwargs})
        super().__init__(feature_map, model_id=model_id, gpu=gpu,
                         embedding_regularizer=embedding_regularizer,
                         net_regularizer=net_regularizer, **kwargs)
        self.model_structure = model_structure
        self.embedding_layer = FeatureEmbedding(feature_map, embedding_dim)
        input_dim = flattened_embedding_dim(feature_map, embedding_dim)
        if use_low_rank_mixture:
            self.crossnet = CrossNetMix(input_dim, num_cross_layers, low_rank=low_rank, num_experts=num_experts)
        else:
            self.crossnet = CrossNetV2(input_dim, num_cross_layers)

        def mlp(in_dim, units):
            return MLP_Block(input_dim=in_dim, output_dim=None, hidden_units=list(units),
                             hidden_activations=dnn_activations, dropout_rates=net_dropout,
                             batch_norm=batch_norm)

        self.stacked_dnn = mlp(input_dim, stacked_dnn_hidden_units) \
            if model_structure in ("stacked", "stacked_parallel") else None
        self.parallel_dnn = mlp(input_dim, parallel_dnn_hidden_units) \
            if model_structure in ("parallel", "stacked_parallel") else None
        # only the MLPs this structure builds have widths to read (the other may be [])
        final_dim = input_dim if self.stacked_dnn is None else ([input_dim] + list(stacked_dnn_hidden_units))[-1]
        if self.parallel_dnn is not None:
            final_dim += parallel_dnn_hidden_units[-1]
        self.fc = nn.Linear(final_dim, 1)
        self.finish_building(learning_rate, **kwargs)

    @classmethod
    def check_model_params(cls, p):
        require_choice(p, "model_structure", STRUCTURES)
        require(isinstance(p["batch_norm"], bool), "batch_norm", "true or false", p["batch_norm"])
        require_positive_int(p, "num_cross_layers")
        if p["model_structure"] in ("parallel", "stacked_parallel"):
            require_int_list(p, "parallel_dnn_hidden_units")
        require_int_list(p, "stacked_dnn_hidden_units", allow_empty=True)
        require(p["model_structure"] != "stacked" or len(p["stacked_dnn_hidden_units"]) > 0,
                "stacked_dnn_hidden_units", "a non-empty list for model_structure stacked",
                p["stacked_dnn_hidden_units"])
        if p["use_low_rank_mixture"]:
            require_positive_int(p, "low_rank")
            require_positive_int(p, "num_experts")

    def forward(self, inputs):
        X = self.get_inputs(inputs)
        x0 = self.embedding_layer(X, flatten_emb=True)
        cross_out = self.crossnet(x0)
        if self.model_structure == "crossnet_only":
            final = cross_out
        elif self.model_structure == "stacked":
            final = self.stacked_dnn(cross_out)
        elif self.model_structure == "parallel":
            final = torch.cat([cross_out, self.parallel_dnn(x0)], dim=-1)
        else:
            final = torch.cat([self.stacked_dnn(cross_out), self.parallel_dnn(x0)], dim=-1)
        return self.predictions(self.fc(final))
