"""The SSR presets, defined once: ``preset: SSR_D_paper`` in an experiment stands for these keys.

A preset sits below everything a config writes: keys of the experiment block and of ``Base`` win
over it (so a ``Base`` with ``embedding_dim: 10`` needs ``embedding_dim: 16`` restated in the
block). Our runner expands it while loading the config, before the fingerprint, and every model
expands it first in its constructor, so FuxiCTR's own ``run_expid.py`` gets the same model.

Sources: the authors' released code
(Atticus666/SSRNet at 8b07c89: ``model_ssrnet_t.py`` / ``block_t21.py`` for SSR-D,
``model_ssrnet.py`` for SSR-S) and the paper (arXiv 2604.08011: Table 3's sizes, Eq. 5-8); ``docs/fidelity.md`` has what each preset reproduces.
"""

# Keras' conventions in the authors' code, shared by every preset: embedding 16 (the paper's
# Section 4.1); the embedding BatchNorm's Keras defaults (eps 1e-3, momentum 0.99 = 0.01 in torch's
# convention); Keras' initialisers and Adam arithmetic; the exact BCE of the logit; no dropout.
_AUTHORS_TRAINING = {
    "model": "SSR",
    "embedding_dim": 16,
    "net_dropout": 0,
    "embedding_norm_eps": 1.0e-3,
    "embedding_norm_momentum": 0.01,
    "weight_init": "authors",
    "optimizer": "keras_adam",
    "loss": "bce_with_logits",
}

# SSR-D as released (block_t21.py): two layers of 8 views, ICS with T=5 iterations from alpha 0.1
# and gamma 1, the gated block with one fusion layer, LayerNorm eps 1e-6, BatchNorm per embedding
# dimension, a single Dense(1) head
_SSR_D = {
    **_AUTHORS_TRAINING,
    "filter_type": "ics",
    "num_views": [8, 8],
    "ics_iterations": 5,
    "alpha_init": 0.1,
    "gamma_init": 1.0,
    "head_hidden_units": [],
    "embedding_norm": "batch_norm",
    "layer_norm_eps": 1.0e-6,
}

PRESETS = {
    # the released gated block at the paper's size: d_v = 64 reproduces Table 3's backbone counts
    "SSR_D_paper": {**_SSR_D, "view_dims": [64, 64], "ssr_block": "gated", "ics_gate": True, "fusion_layers": 1},
    # the same block at d_v = 128, the width of the authors' run script and training logs
    "SSR_D_repo": {**_SSR_D, "view_dims": [128, 128], "ssr_block": "gated", "ics_gate": True, "fusion_layers": 1},
    # the paper text's block (Eq. 5-8): no gate, ICS at d_v* = 128, one GELU projection to d_v = 64
    "SSR_D_text": {**_SSR_D, "view_dims": [64, 64], "ssr_block": "text", "ics_gate": False,
                   "expanded_view_dims": [128, 128]},
    # SSR-S as released (model_ssrnet.py): 2 layers of 16 views x 256 on fixed random index sets
    # drawn by their rule, 2 fusion layers, BatchNorm per field, LayerNorm eps 1e-3 (Keras'
    # default), head Dense(64, ReLU) -> Dense(1)
    "SSR_S_repo": {**_AUTHORS_TRAINING, "filter_type": "static", "filter_index_rule": "authors",
                   "num_views": [16, 16], "view_dims": [256, 256], "fusion_layers": 2, "ics_iterations": 0,
                   "head_hidden_units": [64], "embedding_norm": "field_batch_norm", "layer_norm_eps": 1.0e-3},
}


def expand_preset(params):
    """``params`` with its ``preset`` replaced by the preset's keys, the keys it gives winning;
    raise ``ValueError`` naming an unknown preset."""
    if "preset" not in params:
        return dict(params)
    name = params["preset"]
    if name not in PRESETS:
        raise ValueError(f"preset: expected one of {', '.join(PRESETS)}, got {name!r}")
    expanded = {**PRESETS[name], **params}
    del expanded["preset"]
    return expanded
