"""SSR: explicit sparsity for scalable CTR recommendation (arXiv 2604.08011, SIGIR 2026)."""
import logging

import torch
from torch import nn

from fuxictr.pytorch.layers import FeatureEmbedding, MLP_Block

from ..analysis.ics_activity import alpha_summary, ics_layers
from ..config import is_number, require, require_choice, require_int_list
from ..layers import (EMBEDDING_NORMS, INDEX_RULES, SSR_BLOCKS, CompetitiveFilter, EmbeddingNorm, MultiViewSSRLayer,
                      SSRStack, ViewwiseLinear, feature_major_supported)
from ..layers.keras_init import glorot_normal_, glorot_uniform_
from ..registry import register_model
from .checked_model import CheckedModel, flattened_embedding_dim

FILTER_TYPES = ("static", "ics", "topk", "dropout", "dense")
WEIGHT_INITS = ("fuxictr", "authors")
SSR_LAYOUTS = ("batch_major", "feature_major")


@register_model
class SSR(CheckedModel):
    """SSR: explicit-sparsity CTR model (SSR-S with ``filter_type: static``, SSR-D with ``ics``).

    From "Explicit Sparsity for Scalable CTR Recommendation" (SSR), arXiv 2604.08011, SIGIR 2026.

    Field embeddings ``[B, F, D]`` are normalised and flattened to ``x`` (``d_in = F*D``), pass
    through ``L = len(num_views)`` :class:`~fuxictr_ssr.layers.MultiViewSSRLayer` layers (layer
    ``l`` has ``num_views[l]`` views of width ``view_dims[l]``; middle layers concatenate views, the
    last averages them), then a head MLP gives the logit.

    Args (beyond BaseModel's: optimizer, loss, monitor, embedding_regularizer, ...):
        embedding_dim: D (authors: 16; BARS x1 configs use 10).
        embedding_norm: ``batch_norm`` (per embedding dimension: the authors' SSR-D) |
            ``field_batch_norm`` (per field: the authors' SSR-S) | ``layer_norm`` | ``none``.
        embedding_norm_momentum, embedding_norm_eps: of the embedding BatchNorm (torch
            convention: Keras' momentum 0.99 is 0.01).
        filter_type: ``ics`` (SSR-D) | ``static`` (SSR-S); the paper's ablations: ``topk``
            (straight-through top-k instead of ICS) | ``dropout`` (random zeros at
            ``filter_dropout`` in training instead of ICS's) | ``dense`` (the projection without a
            sparsifier).
        filter_dropout: share of each view's projection ``dropout`` zeroes (default 0.9, about the
            share of zeros ICS reaches in the paper's Table 5).
        topk_fraction: share of each view's entries ``topk`` keeps (at least one).
        ics_learn_gamma: ICS learns gamma; ``False`` fixes it at ``gamma_init`` ("without gamma").
        num_views: views per layer (list; its length is the depth).
        view_dims: view width per layer (list, same length).
        fusion_layers: GELU dense layers in each view's residual fusion (authors: 1 for SSR-D,
            2 for SSR-S).
        ics_iterations: ICS iterations T (0 = plain ReLU).
        alpha_init, gamma_init: ICS initial values.
        ics_gate: gate the sparse map with a second projection (SSR-D).
        head_hidden_units: hidden units of the head MLP (``[]``: a single Linear).
        net_dropout: dropout on every SSR layer's output and in the head.
        filter_seed: seed of SSR-S's index sets; ``null`` uses the run's ``seed``.
        layer_norm_eps: epsilon of the per-view LayerNorms.
        ssr_block: ``gated`` (the authors' released block) | ``text`` (the paper's Eq. 4-8: no
            gate, ICS at ``expanded_view_dims``, one GELU projection to ``view_dims``, no
            residual; needs ``ics_gate: false``).
        expanded_view_dims: d_v* per layer of the text block's ICS filter (default: view_dims).
        filter_index_rule: ``torch`` (one generator per layer from ``filter_seed``) |
            ``authors`` (per view ``numpy RandomState(layer * 1000 + view)``, layers from 1).
        ssr_layout: ``batch_major`` (default) | ``feature_major``: the SSR layers run on
            transposed activations ``[features, B]`` (see :class:`~fuxictr_ssr.layers.MultiViewSSRLayer`),
            the same function and parameters; the fast layout under ``compile: true``.
        weight_init: ``fuxictr`` (FuxiCTR's: embeddings N(0, 1e-4), Xavier-normal dense layers)
            | ``authors`` (Keras defaults as the authors' code: embeddings U(+-0.05), each view's
            projections Glorot-normal [d_in, d_v], dense layers Glorot-uniform, zero biases).
    """

    def __init__(self, feature_map, model_id="SSR", gpu=-1, learning_rate=1e-3,
                 embedding_dim=16, embedding_norm="batch_norm", embedding_norm_momentum=0.1,
                 embedding_norm_eps=1e-5, filter_type="ics",
                 num_views=(8, 8), view_dims=(128, 128), fusion_layers=1, ics_iterations=5,
                 alpha_init=0.1, gamma_init=1.0, ics_gate=True, head_hidden_units=(),
                 net_dropout=0.0, filter_seed=None, layer_norm_eps=1e-5, ssr_block="gated",
                 expanded_view_dims=None, filter_index_rule="torch", weight_init="fuxictr",
                 topk_fraction=0.1, ics_learn_gamma=True, filter_dropout=0.9, ssr_layout="batch_major",
                 embedding_regularizer=None, net_regularizer=None, **kwargs):
        self.check_params({**locals(), **kwargs})
        super().__init__(feature_map, model_id=model_id, gpu=gpu,
                         embedding_regularizer=embedding_regularizer,
                         net_regularizer=net_regularizer, **kwargs)
        if filter_seed is None:
            filter_seed = kwargs.get("seed") or 0
        self.embedding_layer = FeatureEmbedding(feature_map, embedding_dim)
        self.embedding_norm = EmbeddingNorm(embedding_norm, embedding_dim, num_fields=feature_map.num_fields,
                                            momentum=embedding_norm_momentum, eps=embedding_norm_eps)
        self.weight_init = weight_init
        input_dim = flattened_embedding_dim(feature_map, embedding_dim)
        layers = []
        expanded_view_dims = expanded_view_dims or view_dims
        for depth, (views, view_dim) in enumerate(zip(num_views, view_dims)):
            if filter_type == "static" and view_dim > input_dim:
                logging.warning("SSR layer %d: view_dims %d is wider than its input (%d values): each view repeats "
                                "inputs (whole permutations, as the authors' SSR-S does)", depth + 1, view_dim, input_dim)
            layer = MultiViewSSRLayer(
                input_dim, views, view_dim, filter_type=filter_type,
                reduce="mean" if depth == len(num_views) - 1 else "concat",
                fusion_layers=fusion_layers,
                filter_seed=filter_seed + depth if filter_index_rule == "torch" else depth + 1,
                ics_iterations=ics_iterations, alpha_init=alpha_init, gamma_init=gamma_init,
                gate=ics_gate, dropout=net_dropout, layer_norm_eps=layer_norm_eps, block=ssr_block,
                expanded_dim=expanded_view_dims[depth], index_rule=filter_index_rule,
                top_k=max(1, round(topk_fraction * expanded_view_dims[depth])), learn_gamma=ics_learn_gamma,
                filter_drop_rate=filter_dropout)
            layers.append(layer)
            input_dim = layer.output_dim
        self.ssr_layers = SSRStack(layers, feature_major=ssr_layout == "feature_major")
        self.head = MLP_Block(input_dim=input_dim, output_dim=1,
                              hidden_units=list(head_hidden_units), hidden_activations="ReLU",
                              dropout_rates=net_dropout)
        self.finish_building(learning_rate, **kwargs)

    @classmethod
    def check_model_params(cls, p):
        require_choice(p, "embedding_norm", EMBEDDING_NORMS)
        momentum = p["embedding_norm_momentum"]
        require(is_number(momentum) and 0 < momentum <= 1, "embedding_norm_momentum",
                "a number in (0, 1] (torch convention: Keras' 0.99 is 0.01)", momentum)
        require(is_number(p["embedding_norm_eps"]) and p["embedding_norm_eps"] > 0, "embedding_norm_eps", "a number > 0",
                p["embedding_norm_eps"])
        require_choice(p, "filter_type", FILTER_TYPES)
        require_int_list(p, "num_views")
        require_int_list(p, "view_dims")
        require(len(p["num_views"]) == len(p["view_dims"]), "view_dims",
                f"a list as long as num_views ({len(p['num_views'])} layers)", p["view_dims"])
        require_int_list(p, "head_hidden_units", allow_empty=True)
        for key in ("fusion_layers", "ics_iterations"):
            value = p[key]
            require(isinstance(value, int) and not isinstance(value, bool) and value >= 0,
                    key, "an integer >= 0", value)
        require(p["filter_seed"] is None or isinstance(p["filter_seed"], int), "filter_seed",
                "an integer or null", p["filter_seed"])
        require(isinstance(p["ics_gate"], bool), "ics_gate", "true or false", p["ics_gate"])
        for key in ("alpha_init", "gamma_init"):
            require(is_number(p[key]), key, "a number", p[key])
        require(is_number(p["layer_norm_eps"]) and p["layer_norm_eps"] > 0, "layer_norm_eps", "a number > 0",
                p["layer_norm_eps"])
        require_choice(p, "ssr_block", SSR_BLOCKS)
        require_choice(p, "filter_index_rule", INDEX_RULES)
        require_choice(p, "weight_init", WEIGHT_INITS)
        require_choice(p, "ssr_layout", SSR_LAYOUTS)
        require(p["ssr_layout"] == "batch_major" or feature_major_supported(), "ssr_layout",
                f"batch_major on torch {torch.__version__} (feature_major needs torch >= 2.2: torch 2.1's GELU "
                "gradient is wrong for its transposed activations)", p["ssr_layout"])
        require(is_number(p["topk_fraction"]) and 0 < p["topk_fraction"] <= 1, "topk_fraction", "a number in (0, 1]",
                p["topk_fraction"])
        require(is_number(p["filter_dropout"]) and 0 <= p["filter_dropout"] < 1, "filter_dropout",
                "a number in [0, 1)", p["filter_dropout"])
        require(isinstance(p["ics_learn_gamma"], bool), "ics_learn_gamma", "true or false", p["ics_learn_gamma"])
        if p["ssr_block"] == "text":
            require(not p["ics_gate"], "ics_gate", "false with ssr_block: text (the paper's block has no gate)",
                    p["ics_gate"])
        if p["expanded_view_dims"] is not None:
            require_int_list(p, "expanded_view_dims")
            ok = (p["ssr_block"] == "text" and p["filter_type"] != "static" and len(p["expanded_view_dims"]) ==
                  len(p["view_dims"]) and all(e >= v for e, v in zip(p["expanded_view_dims"], p["view_dims"])))
            require(ok, "expanded_view_dims", "null, or with ssr_block: text and a learned filter one width per "
                    "layer, each >= that layer's view_dims", p["expanded_view_dims"])

    def init_weights(self):
        """Called last by FuxiCTR's ``reset_parameters``: the authors' initialisation, if asked."""
        if self.weight_init != "authors":
            return
        for embedding in self.embedding_layer.embedding_layer.embedding_layers.values():
            if isinstance(embedding, nn.Embedding):
                nn.init.uniform_(embedding.weight, -0.05, 0.05)
                if embedding.padding_idx is not None:  # FuxiCTR's padding row stays zero
                    with torch.no_grad():
                        embedding.weight[embedding.padding_idx].zero_()
        head = set(self.head.modules())
        for module in self.modules():
            if isinstance(module, CompetitiveFilter):  # per view: a [d_in, d_v] Keras weight
                for block in module.projection.weight.split(module.view_dim, dim=0):
                    glorot_normal_(block, fan_in=module.projection.in_features, fan_out=module.view_dim)
            elif isinstance(module, ViewwiseLinear):
                for weight in module.weight:
                    glorot_uniform_(weight, fan_in=weight.size(0), fan_out=weight.size(1))
            elif isinstance(module, nn.Linear) and module in head:
                glorot_uniform_(module.weight, fan_in=module.in_features, fan_out=module.out_features)
                nn.init.zeros_(module.bias)

    def validate(self):
        """The validation metrics, plus the ICS diagnostics of SSR-D layers in the log."""
        logs = super().validate()
        for depth, ics in ics_layers(self):
            logging.info("ICS layer %d: surviving fraction %.4f, alpha per iteration (mean over views) %s",
                         depth, self.ics_surviving.get(depth, float("nan")), alpha_summary(ics))
        return logs

    def forward(self, inputs):
        X = self.get_inputs(inputs)
        return self.predictions(self.logit_from_embeddings(self.embedding_layer(X)))

    def logit_from_embeddings(self, feature_emb):
        """The logit ``[B, 1]`` of field embeddings ``[B, F, D]`` (everything after the lookup)."""
        return self.head(self.ssr_layers(self.embedding_norm(feature_emb).flatten(start_dim=1)))
