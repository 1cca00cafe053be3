import os
import sys
from importlib.metadata import entry_points

import pytest
import torch

from fuxictr_ssr.config import load_params
from fuxictr_ssr.models.common import count_parameters
from fuxictr_ssr.registry import ENTRY_POINT_GROUP, get_model_class, list_models
from fuxictr_ssr.runner import DEFAULT_PARAMS
from helpers import categorical_feature_map

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def zoo_test_params(model_name):
    """The ``<Model>_test`` experiment of ``model_zoo/<Model>`` (every model must have one)."""
    config_dir = os.path.join(REPO_ROOT, "model_zoo", model_name, "config")
    return load_params(config_dir, f"{model_name}_test")


@pytest.mark.parametrize("name", list_models())
def test_every_registered_model_builds_and_predicts(name, tmp_path):
    params = {**DEFAULT_PARAMS, **zoo_test_params(name), "model_root": str(tmp_path), "gpu": -1}
    feature_map = categorical_feature_map()
    model = get_model_class(name)(feature_map, **params)
    total, non_embedding = count_parameters(model)
    assert 0 < non_embedding < total
    batch = {f: torch.randint(1, 22, (16,)) for f in feature_map.features}
    batch["label"] = torch.randint(0, 2, (16,)).float()
    model.eval()
    y_pred = model(batch)["y_pred"]
    assert y_pred.shape == (16, 1)
    assert ((y_pred > 0) & (y_pred < 1)).all()


def test_entry_points_publish_every_registered_model():
    published = {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)
                 if ep.value.startswith("fuxictr_ssr.")}
    assert sorted(published) == list_models()
    for name in published:
        assert entry_points(group=ENTRY_POINT_GROUP)[name].load() is get_model_class(name)


def test_unknown_model_lists_registered_names():
    with pytest.raises(ValueError, match="registered models: " + ", ".join(list_models())):
        get_model_class("FinalMLP", search_dir=None)


def test_local_src_package_is_the_fallback(tmp_path, monkeypatch):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "__init__.py").write_text("class MyLocalModel:\n    pass\n")
    monkeypatch.delitem(sys.modules, "src", raising=False)
    monkeypatch.setattr(sys, "path", list(sys.path))
    try:
        assert get_model_class("MyLocalModel", search_dir=str(tmp_path)).__name__ == "MyLocalModel"
        # registry names win over a local src of the same name
        assert get_model_class("SSR", search_dir=str(tmp_path)).__module__ == "fuxictr_ssr.models.ssr"
    finally:
        sys.modules.pop("src", None)


def test_ssr_parameter_count_matches_formula():
    """Non-embedding params of SSR-D: projections + ICS + fusion + LayerNorm + BN + head."""
    feature_map = categorical_feature_map(num_fields=10)
    params = {**DEFAULT_PARAMS, "model_root": "unused", "gpu": -1, "embedding_dim": 4,
              "num_views": [3, 2], "view_dims": [8, 6], "fusion_layers": 1, "ics_iterations": 5}
    model = get_model_class("SSR")(feature_map, **params)
    d_in = 40
    def layer(d_in, b, d_v):
        return (d_in * 2 * b * d_v          # W_in and W_val
                + 5 * b + b * d_v           # alpha [T, b], gamma [b, d_v]
                + b * (d_v * d_v + d_v)     # one fusion layer per view
                + 2 * b * d_v)              # per-view LayerNorm
    expected = 2 * 4 + layer(d_in, 3, 8) + layer(3 * 8, 2, 6) + (6 + 1)
    assert count_parameters(model)[1] == expected
