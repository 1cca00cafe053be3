"""``fuxictr-ssr predict``: the run's test csv scored through the fitted processor reproduces the
logged test metrics for every registered model; chunks, parquet, unseen values and unlabelled rows;
bad input named before any scoring, and nothing of the user's lost."""
import json
import os
import shutil

import numpy as np
import pandas as pd
import pytest
from fuxictr.metrics import evaluate_metrics

from fuxictr_ssr import predict as predict_module
from fuxictr_ssr.predict import predict
from fuxictr_ssr.registry import create_model
from helpers import categorical_feature_map, run_cli
from test_registry import REPO_ROOT, ZOO_TEST_EXPIDS

ZOO_EXPIDS = {expid: os.path.basename(os.path.dirname(config_dir)) for config_dir, expid in ZOO_TEST_EXPIDS}


@pytest.fixture(scope="module")
def trained_zoos(tmp_path_factory):
    """Every model_zoo folder (copied with data/tiny_synthetic) after one run of each ``*_test``
    experiment (2 epochs): ``(root, {expid: the run's result dict})``."""
    root = tmp_path_factory.mktemp("zoos")
    shutil.copytree(os.path.join(REPO_ROOT, "data", "tiny_synthetic"), root / "data" / "tiny_synthetic")
    results = {}
    for expid, folder in ZOO_EXPIDS.items():
        zoo = root / "model_zoo" / folder
        if not zoo.exists():
            shutil.copytree(os.path.join(REPO_ROOT, "model_zoo", folder), zoo,
                            ignore=shutil.ignore_patterns("checkpoints", "*.csv"))
        done = run_cli(zoo, "run", "--expid", expid, "--max-epochs", "2", "--result-json", f"{expid}.json")
        assert done.returncode == 0, done.stderr[-2000:]
        results[expid] = json.loads((zoo / f"{expid}.json").read_text())
    return root, results


@pytest.mark.slow
@pytest.mark.parametrize("expid", list(ZOO_EXPIDS))
def test_scoring_the_test_csv_reproduces_the_logged_test_metrics(trained_zoos, expid):
    root, results = trained_zoos
    zoo = root / "model_zoo" / ZOO_EXPIDS[expid]
    test_csv = root / "data" / "tiny_synthetic" / "test.csv"
    done = run_cli(zoo, "predict", "--expid", expid, "--data", str(test_csv), "--out", "scores.csv",
                   "--keep-columns", "f01", "--evaluate")
    assert done.returncode == 0, done.stderr
    logged = results[expid]["test"]
    scores = pd.read_csv(zoo / "scores.csv", dtype={"f01": str})
    raw = pd.read_csv(test_csv, dtype={"f01": str})
    assert list(scores.columns) == ["f01", "score"] and (scores["f01"] == raw["f01"]).all()
    recomputed = evaluate_metrics(raw["label"].to_numpy(float), scores["score"].to_numpy(float), ["logloss", "AUC"])
    for metric in ("logloss", "AUC"):
        assert abs(recomputed[metric] - logged[metric]) <= 1e-6, (metric, recomputed[metric], logged[metric])
        assert f"{metric} {logged[metric]:.6f}" in done.stdout


def mixed_paths(mixed_trained):
    folder, results = mixed_trained
    return folder, results, os.path.join(os.path.dirname(folder), "data", "mixed")


def test_numerics_sequences_and_missing_values_reproduce_the_logged_metrics(mixed_trained, tmp_path):
    folder, results, data = mixed_paths(mixed_trained)
    for expid in ("DNN_mixed", "SSR_mixed"):
        summary = predict(folder, expid, [os.path.join(data, "test.csv")], str(tmp_path / f"{expid}.csv"),
                          evaluate=True)
        assert summary["rows"] == 400
        for metric in ("logloss", "AUC"):
            assert abs(summary["metrics"][metric] - results[expid]["test"][metric]) <= 1e-6


def test_chunks_batches_and_parquet_give_the_same_scores(mixed_trained, tmp_path):
    folder, _, data = mixed_paths(mixed_trained)
    test_csv = os.path.join(data, "test.csv")
    whole = predict(folder, "SSR_mixed", [test_csv], str(tmp_path / "whole.csv"))
    predict(folder, "SSR_mixed", [test_csv], str(tmp_path / "chunked.parquet"), chunk_rows=37, batch_size=5,
            keep_columns=["row_id"])
    raw = pd.read_csv(test_csv)
    raw.to_parquet(tmp_path / "test.parquet")
    predict(folder, "SSR_mixed", [str(tmp_path / "test.parquet")], str(tmp_path / "from_parquet.csv"))
    expected = pd.read_csv(tmp_path / "whole.csv")["score"].to_numpy()
    chunked = pd.read_parquet(tmp_path / "chunked.parquet")
    assert whole["rows"] == len(chunked) == 400
    assert (chunked["row_id"].astype(int) == raw["row_id"]).all()  # input order kept
    assert np.abs(chunked["score"].to_numpy() - expected).max() <= 1e-6
    assert np.abs(pd.read_csv(tmp_path / "from_parquet.csv")["score"].to_numpy() - expected).max() <= 1e-6


def test_unseen_values_and_unlabelled_rows_are_scored(mixed_trained, tmp_path):
    folder, _, data = mixed_paths(mixed_trained)
    raw = pd.read_csv(os.path.join(data, "test.csv")).drop(columns=["label"])
    raw.loc[:4, "c1"] = "never seen"
    raw.loc[:4, "tags"] = "t0^never^seen"
    raw.loc[5:9, "n1"] = np.nan
    raw.to_csv(tmp_path / "new.csv", index=False)
    summary = predict(folder, "DNN_mixed", [str(tmp_path / "new.csv")] * 2, str(tmp_path / "s.csv"))
    scores = pd.read_csv(tmp_path / "s.csv")["score"]
    assert summary["rows"] == 800 and scores.between(0, 1).all() and scores.notna().all()
    assert (scores[:400].to_numpy() == scores[400:].to_numpy()).all()


def fails(folder, *args):
    done = run_cli(folder, "predict", *args)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
    return done.stderr


def test_bad_data_files_are_named_before_any_scoring(trained_zoo, tmp_path):
    test_csv = str(trained_zoo.parent.parent / "data" / "tiny_synthetic" / "test.csv")
    base = ("--expid", "SSR_test", "--out", str(tmp_path / "s.csv"))
    pd.read_csv(test_csv).drop(columns=["f03", "f07"]).to_csv(tmp_path / "short.csv", index=False)
    assert "has no column 'f03', 'f07', which the model's features are made from" in fails(
        trained_zoo, *base, "--data", str(tmp_path / "short.csv"))
    (tmp_path / "rows.json").write_text("{}")
    assert "is neither csv nor parquet" in fails(trained_zoo, *base, "--data", str(tmp_path / "rows.json"))
    (tmp_path / "broken.parquet").write_bytes(b"not parquet at all")
    assert "cannot be read as parquet" in fails(trained_zoo, *base, "--data", str(tmp_path / "broken.parquet"))
    assert "does not exist" in fails(trained_zoo, *base, "--data", str(tmp_path / "absent.csv"))
    assert "--keep-columns" in fails(trained_zoo, *base, "--data", test_csv, "--keep-columns", "user_id")
    pd.read_csv(test_csv).drop(columns=["label"]).to_csv(tmp_path / "unlabelled.csv", index=False)
    assert "--evaluate" in fails(trained_zoo, *base, "--data", str(tmp_path / "unlabelled.csv"), "--evaluate")
    assert not (tmp_path / "s.csv").exists()


def test_bad_outputs_are_named_and_a_new_folder_is_made(trained_zoo, tmp_path):
    test_csv = str(trained_zoo.parent.parent / "data" / "tiny_synthetic" / "test.csv")
    (tmp_path / "a_file").write_text("keep me")
    assert "is a file, not a folder" in fails(trained_zoo, "--expid", "SSR_test", "--data", test_csv,
                                              "--out", str(tmp_path / "a_file" / "s.csv"))
    assert "expected a .csv or .parquet" in fails(trained_zoo, "--expid", "SSR_test", "--data", test_csv,
                                                  "--out", str(tmp_path / "s.txt"))
    assert (tmp_path / "a_file").read_text() == "keep me"
    done = run_cli(trained_zoo, "predict", "--expid", "SSR_test", "--data", test_csv,
                   "--out", str(tmp_path / "new" / "folder" / "s.parquet"))
    assert done.returncode == 0 and len(pd.read_parquet(tmp_path / "new" / "folder" / "s.parquet")) == 400


def test_a_checkpoint_of_another_model_or_feature_map_is_named(trained_zoo, tmp_path):
    import torch
    from fuxictr_ssr.config import load_params
    params = {**load_params(str(trained_zoo / "config"), "SSR_test"), "model_root": str(tmp_path)}
    wider = create_model({**params, "view_dims": [24, 24]}, categorical_feature_map(vocab_size=22))
    torch.save(wider.state_dict(), tmp_path / "other_experiment.model")
    other_data = create_model(params, categorical_feature_map(vocab_size=30))
    torch.save(other_data.state_dict(), tmp_path / "other_data.model")
    test_csv = str(trained_zoo.parent.parent / "data" / "tiny_synthetic" / "test.csv")
    base = ("--expid", "SSR_test", "--data", test_csv, "--out", str(tmp_path / "s.csv"))
    message = fails(trained_zoo, *base, "--checkpoint", str(tmp_path / "other_experiment.model"))
    assert "does not fit experiment 'SSR_test'" in message and "shapes (saved vs model)" in message
    assert "another experiment" in message
    message = fails(trained_zoo, *base, "--checkpoint", str(tmp_path / "other_data.model"))
    assert "embedding_layer" in message and "(30, 4) vs (22, 4)" in message
    assert "another build of the dataset" in message


def test_a_failure_while_scoring_keeps_the_previous_output_and_the_input(trained_zoo, tmp_path, monkeypatch):
    test_csv = trained_zoo.parent.parent / "data" / "tiny_synthetic" / "test.csv"
    before = test_csv.read_bytes()
    (tmp_path / "s.csv").write_text("score\n0.5\n")
    calls = []

    def fail_on_second_chunk(model, features, batch_size):
        calls.append(1)
        if len(calls) == 2:
            raise OSError(28, "No space left on device", str(tmp_path / "s.csv.tmp"))
        return original(model, features, batch_size)

    original = predict_module.score_arrays
    monkeypatch.setattr(predict_module, "score_arrays", fail_on_second_chunk)
    monkeypatch.chdir(trained_zoo)  # the config's data paths are relative to the zoo folder
    with pytest.raises(OSError):
        predict("config", "SSR_test", [str(test_csv)], str(tmp_path / "s.csv"), chunk_rows=100)
    assert (tmp_path / "s.csv").read_text() == "score\n0.5\n" and not (tmp_path / "s.csv.tmp").exists()
    assert test_csv.read_bytes() == before


def test_a_value_of_the_wrong_type_is_named_with_its_column(mixed_trained, tmp_path):
    folder, _, data = mixed_paths(mixed_trained)
    raw = pd.read_csv(os.path.join(data, "test.csv"))
    raw["n1"] = raw["n1"].astype(str)
    raw.loc[250, "n1"] = "abc"
    raw.to_csv(tmp_path / "typo.csv", index=False)
    message = fails(tmp_path, "--config", folder, "--expid", "DNN_mixed", "--data", "typo.csv", "--out", "s.csv")
    assert "could not parse `abc`" in message and "'n1'" in message and "typo.csv" in message
    assert not (tmp_path / "s.csv").exists() and not (tmp_path / "s.csv.tmp").exists()
