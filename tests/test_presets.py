"""The SSR presets: backbone parameter counts pinned to the paper's and the authors' logs, and the
same preset in every benchmark folder and in model_zoo/SSR."""
import os

import pytest

from fuxictr_ssr.config import load_params
from fuxictr_ssr.models.checked_model import count_parameters
from fuxictr_ssr.registry import create_model, get_model_class
from helpers import categorical_feature_map

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PRESETS = ("SSR_D_paper", "SSR_D_repo", "SSR_S_repo", "SSR_D_text")
FOLDERS = sorted(name for name in os.listdir(os.path.join(REPO_ROOT, "benchmark_configs"))
                 if os.path.isdir(os.path.join(REPO_ROOT, "benchmark_configs", name)))
ZOO = os.path.join(REPO_ROOT, "model_zoo", "SSR", "config")
# Backbone = everything but the embedding tables and the embedding normalisation. Sources: the
# paper's Table 3 (SSR-D 0.97M Avazu 23 fields, 1.23M Criteo 39, 0.89M Ali-CCP 18) reproduced
# exactly at d_v=64; the authors' training logs at d_v=128 and for SSR-S (Frappe: 2,695,409 =
# 2,695,377 + the 2 x 16 of the embedding BatchNorm; 4,243,605 = 4,243,585 + 2 x 10 per field).
PINNED = [("SSR_D_paper", 23, 970_897), ("SSR_D_paper", 39, 1_233_041), ("SSR_D_paper", 18, 888_977),
          ("SSR_D_repo", 10, 2_695_377), ("SSR_D_repo", 23, 3_121_361), ("SSR_D_repo", 39, 3_645_649),
          ("SSR_S_repo", 10, 4_243_585)]


def preset(name, folder=os.path.join(REPO_ROOT, "benchmark_configs", "Frappe_x1")):
    dataset_id = load_params(folder, f"SSR_D_{os.path.basename(folder).lower()}")["dataset_id"] \
        if "benchmark_configs" in folder else None
    return load_params(folder, f"{name}_{dataset_id}")


def backbone_and_norm(params, num_fields):
    model = create_model(params, categorical_feature_map(num_fields, 30))
    norm = sum(p.numel() for p in model.embedding_norm.parameters())
    return count_parameters(model)[1] - norm, norm


@pytest.mark.parametrize("name, num_fields, expected", PINNED)
def test_backbone_counts_match_the_paper_and_the_authors_logs(name, num_fields, expected):
    backbone, norm = backbone_and_norm(preset(name), num_fields)
    assert backbone == expected
    assert norm == (2 * num_fields if name == "SSR_S_repo" else 2 * 16)  # per field / per embedding dim


def test_the_text_variant_has_no_gate_and_an_expanded_filter():
    gated, _ = backbone_and_norm(preset("SSR_D_paper"), 23)
    text, _ = backbone_and_norm(preset("SSR_D_text"), 23)
    # per layer l: b*(d_in*128 + T + 128 (ICS) + 128*64 + 64 (fusion) + 2*64 (LN)), head 64 + 1
    d_ins, b, T = (23 * 16, 8 * 64), 8, 5
    assert text == sum(b * (d * 128 + T + 128 + 128 * 64 + 64 + 2 * 64) for d in d_ins) + 65 != gated
    assert text == 1_037_457  # the README's figure


PRESET_KEYS = {"model", "embedding_dim", "net_dropout", "filter_type", "filter_index_rule", "num_views", "view_dims",
               "expanded_view_dims", "fusion_layers", "ics_iterations", "alpha_init", "gamma_init", "ics_gate",
               "ssr_block", "head_hidden_units", "embedding_norm", "embedding_norm_eps", "embedding_norm_momentum",
               "layer_norm_eps", "weight_init", "optimizer", "loss"}


@pytest.mark.parametrize("folder", FOLDERS)
def test_every_folder_has_the_same_presets_with_its_own_protocol(folder):
    path = os.path.join(REPO_ROOT, "benchmark_configs", folder)
    ssr_d = load_params(path, f"SSR_D_{folder.lower()}")
    for name in PRESETS:
        params, reference = preset(name, path), preset(name)
        assert {k: params.get(k) for k in PRESET_KEYS} == {k: reference.get(k) for k in PRESET_KEYS}, name
        for key in ("embedding_regularizer", "batch_size", "early_stop_patience", "dataset_id"):
            assert params.get(key) == ssr_d.get(key), (name, key)


@pytest.mark.parametrize("name", PRESETS)
def test_model_zoo_presets_equal_the_benchmark_ones(name):
    reference = preset(name)
    for short in ("criteo", "avazu", "frappe", "movielens", "kkbox"):
        params = load_params(ZOO, f"{name}_{short}")
        assert {k: params.get(k) for k in PRESET_KEYS} == {k: reference.get(k) for k in PRESET_KEYS}, short


@pytest.mark.parametrize("name", PRESETS)
def test_fuxictr_own_config_loader_gets_the_same_model_from_the_preset_key(name):
    """FuxiCTR's run_expid.py hands Base + the block (``preset`` unexpanded) to the constructor."""
    from fuxictr.utils import load_config
    folder = os.path.join(REPO_ROOT, "benchmark_configs", "Frappe_x1")
    expid = f"{name}_frappe_x1"
    theirs = load_config(folder, expid)
    assert theirs["preset"] == name
    feature_map = categorical_feature_map(10, 30)
    ours = create_model(load_params(folder, expid), feature_map)
    stock = get_model_class("SSR")(feature_map, **{**theirs, "gpu": -1})
    assert {k: v.shape for k, v in stock.state_dict().items()} == {k: v.shape for k, v in ours.state_dict().items()}
    assert type(stock.optimizer) is type(ours.optimizer)
    norms = [(m.embedding_norm.kind, m.embedding_norm.norm.eps, m.embedding_norm.norm.momentum) for m in (stock, ours)]
    assert norms[0] == norms[1] and norms[0][1:] == (1e-3, 0.01)


def test_an_unknown_preset_is_named():
    with pytest.raises(ValueError, match="preset: expected one of SSR_D_paper, .*got 'SSR_X'"):
        create_model({"model": "SSR", "preset": "SSR_X", "dataset_id": "x", "label_col": {"name": "label"},
                      "feature_cols": [{"name": ["a", "b"], "type": "categorical"}]})
