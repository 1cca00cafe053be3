"""Every config error is a ValueError naming the key, raised before data is read or a model built."""
import os
import re

import pytest
import yaml

from fuxictr_ssr.experiment import Experiment
from fuxictr_ssr.runner import run_experiment
from helpers import generated_experiment

ZOO_CONFIG = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                          "model_zoo", "SSR", "config")


@pytest.fixture
def config_dir(zoo_copy, monkeypatch):
    monkeypatch.chdir(zoo_copy / "model_zoo" / "SSR")  # restored after the test
    return "./config/"


def edit_experiment(config_dir, expid, **changes):
    path = os.path.join(config_dir, "model_config.yaml")
    blocks = yaml.safe_load(open(path))
    for key, value in changes.items():
        if value is None:
            blocks[expid].pop(key, None)
        else:
            blocks[expid][key] = value
    yaml.safe_dump(blocks, open(path, "w"))


@pytest.mark.parametrize("expid", ["SSR_test", "SSR_S_test"])
def test_zoo_test_experiments_are_valid(config_dir, expid):
    experiment = Experiment.load(config_dir, expid)
    params, model_class = experiment.params, experiment.model_class
    assert model_class.__name__ == "SSR" and params["model_id"] == expid


BAD_SSR = [
    ({"num_views": [2, 2, 2]}, "view_dims: expected a list as long as num_views"),
    ({"view_dims": [16, 0]}, "view_dims: expected a non-empty list of positive integers"),
    ({"num_views": [-1, 2]}, "num_views: expected a non-empty list of positive integers"),
    ({"num_views": 4}, "num_views: expected a non-empty list"),
    ({"embedding_dim": 0}, "embedding_dim: expected a positive integer"),
    ({"filter_type": "lsh"}, "filter_type: expected one of static, ics, topk, dropout, dense, got 'lsh'"),
    ({"ics_iterations": -1}, "ics_iterations: expected an integer >= 0"),
    ({"embedding_norm": "group_norm"}, "embedding_norm: expected one of batch_norm, field_batch_norm, layer_norm, none"),
    ({"net_dropout": 1.5}, "net_dropout: expected a dropout rate"),
    ({"embedding_norm_momentum": 0}, "embedding_norm_momentum: expected a number in (0, 1]"),
    ({"embedding_norm_eps": -1}, "embedding_norm_eps: expected a number > 0"),
    ({"batch_norm_warm_start": "False"}, "batch_norm_warm_start: expected true or false, got 'False'"),
    ({"bn_check_threshold": -0.1}, "bn_check_threshold: expected a number >= 0 (an AUC gap) or null"),
    ({"model": "NoSuchModel"}, "model: unknown model 'NoSuchModel'; registered models: DCNv2, DNN, DeepFM, RankMixer, SSR, WuKong"),
    ({"dataset_id": None}, "dataset_id: missing in experiment 'SSR_test'"),
    ({"dataset_id": "nowhere_x1"}, "dataset_id: 'nowhere_x1' not found"),
    ({"embedding_regularizer": "1e-05"}, "embedding_regularizer: expected a number >= 0, 'l1(x)', 'l2(x)' or "
                                         "'l1_l2(x, y)' (YAML reads 1e-05 as text: write 1.0e-05), got '1e-05'"),
    ({"net_regularizer": "l3(0.1)"}, "net_regularizer: expected a number >= 0"),
    ({"learning_rate": 0}, "learning_rate: expected a positive number"),
    ({"batch_size": 0}, "batch_size: expected a positive integer"),
    ({"monitor_mode": "maximum"}, "monitor_mode: expected one of max, min"),
    ({"compile": "yes"}, "compile: expected true or false, got 'yes'"),
    ({"precision": "fp16"}, "precision: expected one of fp32, bf16, got 'fp16'"),
    ({"ssr_layout": "columns"}, "ssr_layout: expected one of batch_major, feature_major, got 'columns'"),
]


@pytest.mark.parametrize("changes,message", BAD_SSR, ids=[m.split(":")[0] + "-" + str(i) for i, (_, m) in enumerate(BAD_SSR)])
def test_bad_experiment_key_is_named(config_dir, changes, message):
    edit_experiment(config_dir, "SSR_test", **changes)
    with pytest.raises(ValueError, match=re.escape(message)):
        Experiment.load(config_dir, "SSR_test")


def test_feature_major_on_a_torch_that_computes_it_wrong_is_named(config_dir, monkeypatch):
    from fuxictr_ssr.layers import ssr_stack
    from fuxictr_ssr.models import ssr
    for module in (ssr, ssr_stack):
        monkeypatch.setattr(module, "feature_major_supported", lambda: False)
    edit_experiment(config_dir, "SSR_test", ssr_layout="feature_major")
    with pytest.raises(ValueError, match="ssr_layout: expected batch_major on torch .* needs torch >= 2.2"):
        Experiment.load(config_dir, "SSR_test")
    with pytest.raises(ValueError, match="ssr_layout: feature_major needs torch >= 2.2"):
        ssr_stack.SSRStack([], feature_major=True)
    Experiment.load(config_dir, "SSR_test", overrides={"ssr_layout": "batch_major"})


def test_unknown_expid_lists_available(config_dir):
    with pytest.raises(ValueError, match="--expid: experiment 'SSR_nope' not found.*SSR_test"):
        Experiment.load(config_dir, "SSR_nope")


def test_missing_config_folder():
    with pytest.raises(ValueError, match="--config: config folder 'no/such/dir' does not exist"):
        Experiment.load("no/such/dir", "SSR_test")


def test_missing_bars_data_names_file_and_source(config_dir):
    with pytest.raises(ValueError, match=r"train_data: data file '../../data/Criteo/Criteo_x1/train.csv'"
                                         r".*reczoo/Criteo_x1"):
        Experiment.load(config_dir, "SSR_criteo")


def test_config_error_stops_before_any_work_and_keeps_results(tmp_path):
    config_dir = generated_experiment(tmp_path, {"SSR_bad": {"model": "SSR", "num_views": [2, 2],
                                                             "view_dims": [8]}})
    result_csv = tmp_path / "results.csv"
    result_csv.write_text("earlier result\n")
    with pytest.raises(ValueError, match="view_dims"):
        run_experiment(config_dir, "SSR_bad", result_csv=str(result_csv))
    assert result_csv.read_text() == "earlier result\n"
    assert not os.path.exists(tmp_path / "data" / "gen")  # nothing preprocessed
    assert not os.path.exists(tmp_path / "checkpoints")  # no log, no checkpoint


def test_cli_reports_config_error_with_exit_code_2(config_dir, capsys):
    from fuxictr_ssr.cli import main
    assert main(["run", "--config", config_dir, "--expid", "SSR_missing"]) == 2
    assert "--expid: experiment 'SSR_missing' not found" in capsys.readouterr().err


def test_a_dataset_block_refers_to_another_folders_block(tmp_path):
    from fuxictr_ssr.config import load_dataset_block
    study = tmp_path / "study"
    study.mkdir()
    (study / "dataset_config.yaml").write_text(f"tiny_synthetic:\n    from: {os.path.relpath(ZOO_CONFIG, study)}\n"
                                               "    min_categr_count: 3\n")
    block = load_dataset_block(str(study), "tiny_synthetic")
    original = load_dataset_block(ZOO_CONFIG, "tiny_synthetic")
    assert block == {**original, "min_categr_count": 3} and original.get("min_categr_count") != 3


@pytest.mark.parametrize("target, problem", [("nowhere", "is not a folder"), (".", "refers back to itself")])
def test_a_bad_dataset_reference_is_named(tmp_path, target, problem):
    from fuxictr_ssr.config import load_dataset_block
    (tmp_path / "dataset_config.yaml").write_text(f"gen:\n    from: {target}\n")
    with pytest.raises(ValueError, match=f"dataset 'gen': from: '{re.escape(target)}' {problem}"):
        load_dataset_block(str(tmp_path), "gen")
