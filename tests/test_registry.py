import argparse
import glob
import os
import re
import subprocess
import sys
from importlib.metadata import entry_points

import pytest
import torch

from fuxictr_ssr.experiment import list_expids
from fuxictr_ssr.config import load_params
from fuxictr_ssr.models.checked_model import count_parameters
from fuxictr_ssr.registry import ENTRY_POINT_GROUP, create_model, get_model_class, list_models
from helpers import categorical_feature_map

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ZOO_TEST_EXPIDS = [(config_dir, expid)
                   for config_dir in sorted(glob.glob(os.path.join(REPO_ROOT, "model_zoo", "*", "config")))
                   for expid in list_expids(config_dir) if expid.endswith("_test")]
ZOO_IDS = [expid for _, expid in ZOO_TEST_EXPIDS]


def test_every_registered_model_has_a_zoo_test_experiment():
    zoo_models = {load_params(config_dir, expid)["model"] for config_dir, expid in ZOO_TEST_EXPIDS}
    assert zoo_models == set(list_models())


def zoo_model(config_dir, expid, tmp_path, num_fields=12, vocab_size=22):
    params = {**load_params(config_dir, expid), "model_root": str(tmp_path)}
    feature_map = categorical_feature_map(num_fields=num_fields, vocab_size=vocab_size)
    return create_model(params, feature_map), feature_map


def random_batch(feature_map, size=16, vocab_size=22):
    generator = torch.Generator().manual_seed(0)
    batch = {f: torch.randint(1, vocab_size, (size,), generator=generator) for f in feature_map.features}
    batch["label"] = torch.randint(0, 2, (size,), generator=generator).float()
    return batch


@pytest.mark.parametrize("config_dir,expid", ZOO_TEST_EXPIDS, ids=ZOO_IDS)
def test_every_zoo_test_experiment_builds_and_predicts(config_dir, expid, tmp_path):
    model, feature_map = zoo_model(config_dir, expid, tmp_path)
    total, non_embedding = count_parameters(model)
    assert 0 < non_embedding < total
    model.eval()
    y_pred = model(random_batch(feature_map))["y_pred"]
    assert y_pred.shape == (16, 1)
    assert ((y_pred > 0) & (y_pred < 1)).all()


@pytest.mark.parametrize("config_dir,expid", ZOO_TEST_EXPIDS, ids=ZOO_IDS)
def test_every_parameter_gets_a_finite_nonzero_gradient(config_dir, expid, tmp_path):
    """timm's backward test: one training loss, and no parameter left out of the graph."""
    model, feature_map = zoo_model(config_dir, expid, tmp_path)
    model.train()
    batch = random_batch(feature_map, size=64)
    loss = model.compute_loss(model(batch), model.get_labels(batch))
    loss.backward()
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        assert param.grad is not None, f"{expid}: {name} got no gradient"
        assert torch.isfinite(param.grad).all(), f"{expid}: {name} has a non-finite gradient"
        assert param.grad.abs().max() > 0, f"{expid}: {name} has an all-zero gradient"


def test_entry_points_publish_every_registered_model():
    published = {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)
                 if ep.value.startswith("fuxictr_ssr.")}
    assert sorted(published) == list_models()
    for name in published:
        assert entry_points(group=ENTRY_POINT_GROUP)[name].load() is get_model_class(name)


def test_unknown_model_lists_registered_names():
    with pytest.raises(ValueError, match="registered models: " + ", ".join(list_models())):
        get_model_class("FinalMLP", search_dir=None)


def test_a_folders_own_src_package_comes_first(tmp_path, monkeypatch):
    """As in FuxiCTR's model_zoo/DCNv2: the folder's src.DCNv2 is trained, not ours."""
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "__init__.py").write_text("class MyLocalModel:\n    pass\n\nclass DCNv2:\n    pass\n")
    monkeypatch.delitem(sys.modules, "src", raising=False)
    monkeypatch.setattr(sys, "path", list(sys.path))
    try:
        assert get_model_class("MyLocalModel", search_dir=str(tmp_path)).__name__ == "MyLocalModel"
        assert get_model_class("DCNv2", search_dir=str(tmp_path)).__module__ == "src"
        # names the local src lacks come from the registry
        assert get_model_class("SSR", search_dir=str(tmp_path)).__module__ == "fuxictr_ssr.models.ssr"
    finally:
        sys.modules.pop("src", None)
    assert get_model_class("DCNv2", search_dir=str(tmp_path / "elsewhere")).__module__ == "fuxictr_ssr.models.dcnv2"


def test_ssr_parameter_count_matches_formula():
    """Non-embedding params of SSR-D: projections + ICS + fusion + LayerNorm + BN + head."""
    feature_map = categorical_feature_map(num_fields=10)
    model = create_model({"model": "SSR", "embedding_dim": 4, "num_views": [3, 2], "view_dims": [8, 6],
                          "fusion_layers": 1, "ics_iterations": 5}, feature_map)
    d_in = 40
    def layer(d_in, b, d_v):
        return (d_in * 2 * b * d_v          # W_in and W_val
                + 5 * b + b * d_v           # alpha [T, b], gamma [b, d_v]
                + b * (d_v * d_v + d_v)     # one fusion layer per view
                + 2 * b * d_v)              # per-view LayerNorm
    expected = 2 * 4 + layer(d_in, 3, 8) + layer(3 * 8, 2, 6) + (6 + 1)
    assert count_parameters(model)[1] == expected


@pytest.mark.parametrize("structure", ["stacked", "crossnet_only"])
def test_dcnv2_structures_without_the_parallel_mlp_build_and_train(structure, tmp_path):
    """FuxiCTR's default ``parallel_dnn_hidden_units: []`` is valid for these two structures."""
    feature_map = categorical_feature_map(num_fields=5, vocab_size=9)
    model = create_model({"model": "DCNv2", "model_structure": structure, "embedding_dim": 4, "num_cross_layers": 2,
                          "parallel_dnn_hidden_units": [], "stacked_dnn_hidden_units": [6, 3],
                          "model_root": str(tmp_path)}, feature_map)
    assert (model.parallel_dnn is None) and ((model.stacked_dnn is None) == (structure == "crossnet_only"))
    assert model.fc.in_features == (3 if structure == "stacked" else 5 * 4)
    batch = random_batch(feature_map, size=8, vocab_size=9)
    model.compute_loss(model(batch), model.get_labels(batch)).backward()
    assert model(batch)["y_pred"].shape == (8, 1)


@pytest.mark.parametrize("index_rule", ["torch", "authors"])
def test_each_ssr_s_layer_draws_its_own_index_sets(index_rule):
    """Two layers of the same shape (48 inputs, 2 views of 24) must not share one filter seed."""
    model = create_model({"model": "SSR", "filter_type": "static", "embedding_dim": 4, "num_views": [2, 2],
                          "view_dims": [24, 24], "filter_index_rule": index_rule}, categorical_feature_map())
    first, second = (layer.filter.indices for layer in model.ssr_layers)
    assert first.shape == second.shape
    assert not torch.equal(first, second)


def _parsers(parser):
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                yield from _parsers(child)


def test_every_option_of_every_command_says_what_it_does():
    from fuxictr_ssr.cli import build_parser
    silent = [f"{parser.prog} {action.option_strings[0]}" for parser in _parsers(build_parser())
              for action in parser._actions if action.option_strings and not action.help]
    assert silent == []
    bench_help = next(p for p in _parsers(build_parser()) if p.prog.endswith(" bench")).format_help()
    assert "(default: 2021)" in " ".join(bench_help.split())


@pytest.mark.slow
def test_version_names_the_plugin_and_fuxictr():
    done = subprocess.run([sys.executable, "-m", "fuxictr_ssr", "--version"], capture_output=True, text=True)
    assert done.returncode == 0 and re.fullmatch(r"fuxictr-ssr \S+ \(fuxictr \S+\)\n", done.stdout)


def test_a_save_that_dies_midway_leaves_the_previous_checkpoint_whole(tmp_path, monkeypatch):
    model = create_model({"model": "DNN", "embedding_dim": 4, "hidden_units": [8], "model_root": str(tmp_path)},
                         categorical_feature_map(num_fields=6, vocab_size=9))
    checkpoint = str(tmp_path / "DNN.model")
    model.save_weights(checkpoint)
    saved = {k: v.clone() for k, v in model.state_dict().items()}

    def torn_save(state, path):  # writes part of a file, then the process is "killed"
        with open(path, "wb") as handle:
            handle.write(b"PK\x03\x04 half a checkpoint")
        raise KeyboardInterrupt

    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(1.0)
    monkeypatch.setattr(torch, "save", torn_save)
    with pytest.raises(KeyboardInterrupt):
        model.save_weights(checkpoint)
    monkeypatch.undo()
    model.load_weights(checkpoint)
    for key, value in model.state_dict().items():
        assert torch.equal(value, saved[key]), key
