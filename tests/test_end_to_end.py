"""Through the runner on generated data: train, checkpoint, result line, reload, reproduce."""
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import torch

from fuxictr_ssr.experiment import Experiment
from fuxictr_ssr.runner import run_experiment
from helpers import generated_experiment

RESULT_LINE = re.compile(r"^ \d{8}-\d{6},\[command\] (?:python|fuxictr-ssr) .*,\[exp_id\] (\S+),\[dataset_id\] gen,"
                         r"\[train\] N\.A\.,\[val\] logloss: [\d.]+ - AUC: [\d.]+,"
                         r"\[test\] logloss: [\d.]+ - AUC: ([\d.]+)$")

EXPERIMENTS = {
    "SSR_D_gen": {"model": "SSR", "filter_type": "ics", "num_views": [4, 4], "view_dims": [32, 32],
                  "fusion_layers": 1, "ics_iterations": 3},
    "SSR_S_gen": {"model": "SSR", "filter_type": "static", "num_views": [8, 4], "view_dims": [32, 32],
                  "fusion_layers": 2, "ics_iterations": 0},
}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Both SSR variants trained once on a learnable generated dataset."""
    tmp_path = tmp_path_factory.mktemp("e2e")
    config_dir = generated_experiment(tmp_path, EXPERIMENTS)
    result_csv = str(tmp_path / "config.csv")
    results = {expid: run_experiment(config_dir, expid, result_csv=result_csv) for expid in EXPERIMENTS}
    return tmp_path, config_dir, result_csv, results


@pytest.mark.slow
def test_ssr_learns_generated_data(trained):
    _, _, _, results = trained
    for expid, result in results.items():
        assert result["test"]["AUC"] > 0.65, (expid, result["test"])
        assert result["params_non_embedding"] > 0


@pytest.mark.slow
def test_checkpoint_log_and_result_lines_are_written(trained):
    tmp_path, _, result_csv, results = trained
    lines = open(result_csv).read().splitlines()
    assert len(lines) == len(EXPERIMENTS)
    for line, (expid, result) in zip(lines, results.items()):
        match = RESULT_LINE.match(line)
        assert match, line
        assert match.group(1) == expid
        assert float(match.group(2)) == pytest.approx(result["test"]["AUC"], abs=1e-6)
        assert os.path.isfile(result["checkpoint"])
        log = open(os.path.join(tmp_path, "checkpoints", "gen", f"{expid}.log")).read()
        assert f"Parameters: non-embedding {result['params_non_embedding']}, total {result['params_total']}" in log


@pytest.mark.slow
@pytest.mark.parametrize("expid", list(EXPERIMENTS))
def test_reloaded_checkpoint_reproduces_predictions(trained, expid):
    _, config_dir, _, results = trained
    experiment = Experiment.load(config_dir, expid)
    params, model_class = experiment.params, experiment.model_class
    feature_map, paths = experiment.data.prepare()
    test_gen = experiment.data.loaders(feature_map, paths, "test")
    fresh = model_class(feature_map, **params)
    before = fresh.predict(test_gen)
    fresh.load_weights(results[expid]["checkpoint"])
    reloaded = fresh.predict(test_gen)
    assert not np.allclose(before, reloaded)
    from sklearn.metrics import roc_auc_score
    labels = torch.cat([batch["label"] for batch in test_gen]).numpy()
    assert roc_auc_score(labels, reloaded) == pytest.approx(results[expid]["test"]["AUC"], abs=1e-9)


@pytest.mark.slow
def test_same_seed_gives_same_metrics_and_other_seed_differs(tmp_path):
    config_dir = generated_experiment(tmp_path, {"SSR_S_gen": EXPERIMENTS["SSR_S_gen"]}, base={"epochs": 1})
    csv = str(tmp_path / "r.csv")
    first = run_experiment(config_dir, "SSR_S_gen", result_csv=csv)
    second = run_experiment(config_dir, "SSR_S_gen", result_csv=csv)
    other = run_experiment(config_dir, "SSR_S_gen", result_csv=csv, overrides={"seed": 7})
    assert first["test"] == second["test"] and first["valid"] == second["valid"]
    assert other["test"] != first["test"]


@pytest.mark.slow
def test_model_zoo_run_expid_and_console_command(zoo_copy):
    """The user's two entry points, as separate processes, on the committed tiny dataset."""
    zoo = zoo_copy / "model_zoo" / "SSR"
    for command, cwd in (([sys.executable, "run_expid.py", "--expid", "SSR_test", "--gpu", "-1"], zoo),
                         ([sys.executable, "-m", "fuxictr_ssr", "run", "--config", "./config/",
                           "--expid", "SSR_S_test", "--gpu", "-1"], zoo),
                         # FuxiCTR's run_expid.py works in its own folder, whatever the caller's
                         ([sys.executable, "model_zoo/SSR/run_expid.py", "--expid", "SSR_test"], zoo_copy)):
        completed = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=600)
        assert completed.returncode == 0, completed.stderr[-3000:]
    lines = (zoo / "config.csv").read_text().splitlines()
    assert [line.split("[exp_id] ")[1].split(",")[0] for line in lines] == ["SSR_test", "SSR_S_test", "SSR_test"]
    assert not (zoo_copy / "config.csv").exists()
    assert (zoo / "checkpoints" / "tiny_synthetic" / "SSR_test.model").is_file()
    assert (zoo_copy / "data" / "tiny_synthetic" / "feature_map.json").is_file()


@pytest.mark.slow
def test_run_expid_without_data_stops_at_once_naming_the_file(zoo_copy):
    completed = subprocess.run([sys.executable, "run_expid.py", "--expid", "SSR_criteo", "--gpu", "-1"],
                               cwd=zoo_copy / "model_zoo" / "SSR", capture_output=True, text=True, timeout=300)
    assert completed.returncode == 2
    assert "train_data: data file '../../data/Criteo/Criteo_x1/train.csv'" in completed.stderr
    assert not (zoo_copy / "model_zoo" / "SSR" / "checkpoints").exists()


@pytest.mark.slow
def test_raw_parquet_and_preprocessed_npz_inputs(tmp_path):
    """data_format parquet (raw, preprocessed by fuxictr) and npz (already preprocessed arrays)."""
    import json
    import pandas as pd
    import yaml
    experiments = {"SSR_S_gen": {**EXPERIMENTS["SSR_S_gen"], "epochs": 1}}
    config_dir = generated_experiment(tmp_path, experiments)
    dataset_path = os.path.join(config_dir, "dataset_config.yaml")
    block = yaml.safe_load(open(dataset_path))["gen"]
    for key in ("train_data", "valid_data", "test_data"):  # raw parquet instead of csv
        frame = pd.read_csv(block[key], dtype={c: str for c in pd.read_csv(block[key], nrows=1).columns if c != "label"})
        block[key] = block[key].replace(".csv", ".parquet")
        frame.to_parquet(block[key])
    block["data_format"] = "parquet"
    yaml.safe_dump({"gen": block}, open(dataset_path, "w"))
    from_parquet = run_experiment(config_dir, "SSR_S_gen", result_csv=str(tmp_path / "r.csv"))
    assert from_parquet["test"]["AUC"] > 0.6

    # the preprocessed splits as npz arrays, one per column, plus the feature map fuxictr wrote
    processed = os.path.join(block["data_root"], "gen")
    feature_map = json.load(open(os.path.join(processed, "feature_map.json")))
    npz_dir = tmp_path / "npz"
    os.makedirs(npz_dir / "gen_npz")
    feature_map["dataset_id"] = "gen_npz"
    json.dump(feature_map, open(npz_dir / "gen_npz" / "feature_map.json", "w"))
    npz_block = {"data_root": str(npz_dir), "data_format": "npz"}
    for split in ("train", "valid", "test"):
        frame = pd.read_parquet(os.path.join(processed, f"{split}.parquet"))
        np.savez(npz_dir / "gen_npz" / f"{split}.npz", **{c: frame[c].to_numpy() for c in frame.columns})
        npz_block[f"{split}_data"] = str(npz_dir / "gen_npz" / f"{split}.npz")
    yaml.safe_dump({"gen": block, "gen_npz": npz_block}, open(dataset_path, "w"))
    models = yaml.safe_load(open(os.path.join(config_dir, "model_config.yaml")))
    models["SSR_S_gen"]["dataset_id"] = "gen_npz"
    yaml.safe_dump(models, open(os.path.join(config_dir, "model_config.yaml"), "w"))
    from_npz = run_experiment(config_dir, "SSR_S_gen", result_csv=str(tmp_path / "r.csv"))
    assert from_npz["test"] == from_parquet["test"]  # same arrays, same seed, same model


@pytest.mark.slow
def test_the_reported_metrics_are_the_best_epochs_not_the_last(zoo_copy):
    """A run that overfits (large learning rate, early stop after 2 epochs without progress): the
    reported validation AUC is that of the best epoch's checkpoint, reloaded, not the last epoch's. The epoch cap
    (40) is far beyond where it stops, so the early stop, not the cap, ends it on any CPU."""
    import yaml
    zoo = zoo_copy / "model_zoo" / "SSR"
    path = zoo / "config" / "model_config.yaml"
    blocks = yaml.safe_load(path.read_text())
    blocks["SSR_test"].update(epochs=40, learning_rate=0.01, early_stop_patience=2, embedding_regularizer=0)
    path.write_text(yaml.safe_dump(blocks, sort_keys=False))
    done = subprocess.run([sys.executable, "-m", "fuxictr_ssr", "run", "--expid", "SSR_test", "--result-json", "r.json"],
                          cwd=zoo, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads((zoo / "r.json").read_text())
    per_epoch = [float(v) for v in re.findall(r"\[Metrics\] AUC: ([0-9.]+)\n", done.stderr)]
    assert len(per_epoch) == result["epochs_run"] and result["best_epoch"] < result["epochs_run"]
    assert per_epoch[result["best_epoch"] - 1] == max(per_epoch)
    assert round(result["valid"]["AUC"], 6) == per_epoch[result["best_epoch"] - 1] != per_epoch[-1]
    assert "Load best model" in done.stderr


def fuxictr_parquet_folder(tmp_path, model_block, data_format="parquet"):
    """A FuxiCTR model_zoo-style folder: FuxiCTR's preprocessed dataset block (``data_format:
    parquet`` or ``npz``, splits and ``feature_map.json`` preprocessed, no ``feature_cols``) and one
    experiment."""
    from helpers import categorical_feature_map, write_config
    from test_data import write_parquet_split
    data = tmp_path / "data" / "tiny_parquet"
    data.mkdir(parents=True)
    for split, rows in (("train", 2000), ("valid", 500), ("test", 500)):
        frame = write_parquet_split(data / f"{split}.parquet", num_rows=rows)
        if data_format == "npz":
            os.remove(data / f"{split}.parquet")
            np.savez(data / f"{split}.npz", **{c: frame[c].to_numpy() for c in frame.columns})
    categorical_feature_map(dataset_id="tiny_parquet").save(str(data / "feature_map.json"))
    block = {"tiny_parquet": {"data_root": "../data/", "data_format": data_format,
                              **{f"{s}_data": f"../data/tiny_parquet/{s}.{data_format}" for s in ("train", "valid", "test")}}}
    zoo = tmp_path / "zoo"
    write_config(zoo / "config", block, {"X_test": {"dataset_id": "tiny_parquet", "epochs": 1, "batch_size": 128,
                                                     **model_block}})
    return zoo, data


@pytest.mark.slow
def test_fuxictrs_preprocessed_parquet_block_without_feature_cols_runs(tmp_path):
    zoo, data = fuxictr_parquet_folder(tmp_path, {"model": "DNN", "hidden_units": [16]})
    done = subprocess.run([sys.executable, "-m", "fuxictr_ssr", "run", "--expid", "X_test"], cwd=zoo,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "[exp_id] X_test" in (zoo / "config.csv").read_text()
    assert sorted(os.listdir(data)) == ["feature_map.json", "test.parquet", "train.parquet", "valid.parquet"]


# FuxiCTR's own run_expid.py, step by step (fuxictr's API, none of our runner): a local src package
# of two lines makes SSR one of the folder's models. 2.3.10's RankDataLoader returns the loaders
# themselves, where FuxiCTR's scripts call .make_iterator(); the script takes either. npz data:
# 2.3.10 reads parquet through Ray, about a minute per epoch even here.
FUXICTR_LOOP = """
import os
import src
from fuxictr.features import FeatureMap
from fuxictr.pytorch.dataloaders import RankDataLoader
from fuxictr.pytorch.torch_utils import seed_everything
from fuxictr.utils import load_config, set_logger

params = load_config("./config/", "X_test")
params["gpu"] = -1
set_logger(params)
seed_everything(seed=params["seed"])
feature_map = FeatureMap(params["dataset_id"], os.path.join(params["data_root"], params["dataset_id"]))
feature_map.load(os.path.join(feature_map.data_dir, "feature_map.json"), params)
model = getattr(src, params["model"])(feature_map, **params)
loaders = RankDataLoader(feature_map, stage="train", **params)
train_gen, valid_gen = loaders.make_iterator() if hasattr(loaders, "make_iterator") else loaders
model.fit(train_gen, validation_data=valid_gen, **params)
print("valid AUC", model.evaluate(valid_gen)["AUC"])
"""


@pytest.mark.slow
def test_fuxictrs_own_training_loop_runs_ssr_from_a_two_line_src(tmp_path):
    zoo, _ = fuxictr_parquet_folder(tmp_path, data_format="npz", model_block={
        "model": "SSR", "num_views": [2, 2], "view_dims": [16, 16], "embedding_dim": 4, "seed": 2021,
        "model_root": "./checkpoints/", "metrics": ["logloss", "AUC"], "monitor": "AUC", "monitor_mode": "max",
        "task": "binary_classification", "optimizer": "adam", "loss": "binary_crossentropy", "learning_rate": 1e-3,
        # what FuxiCTR's model_zoo Base blocks give every experiment
        "verbose": 1, "early_stop_patience": 2, "save_best_only": True, "eval_steps": None, "shuffle": True,
        "embedding_regularizer": 0, "net_regularizer": 0})
    (zoo / "src").mkdir()
    (zoo / "src" / "__init__.py").write_text("from fuxictr_ssr.models import SSR  # noqa: F401\n")
    (zoo / "fuxictr_loop.py").write_text(FUXICTR_LOOP)
    done = subprocess.run([sys.executable, "fuxictr_loop.py"], cwd=zoo, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert 0.0 < float(done.stdout.split("valid AUC ")[1]) < 1.0
