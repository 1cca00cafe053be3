"""``fuxictr-ssr tune``: FuxiCTR's tuner config, trials through the benchmark runner, selection on
validation only, resume, budget, TPE, and bad tuner configs named before any trial."""
import csv
import os

import pytest
import yaml

from fuxictr_ssr import tune
from fuxictr_ssr.bench import run_benchmark
from fuxictr_ssr.records import read_results
from fuxictr_ssr.cli import main
from fuxictr_ssr.config import load_params
from fuxictr_ssr.data import SyntheticSpec
from helpers import generated_experiment

SPACE = {"embedding_regularizer": [0, 0.05], "net_dropout": [0, 0.3], "batch_size": 256}


@pytest.fixture
def base(tmp_path):
    spec = SyntheticSpec(num_rows=1500, num_fields=6, num_informative=2, num_interactions=1, vocab_size=8, seed=3)
    return generated_experiment(tmp_path, {"DNN_gen": {"model": "DNN", "hidden_units": [16]}}, spec=spec,
                                base={"epochs": 1})


def write_tuner(tmp_path, config_dir, space=None, name="tuner.yaml", **extra):
    path = tmp_path / name
    path.write_text(yaml.safe_dump({"base_config": config_dir, "base_expid": "DNN_gen", "dataset_id": "gen",
                                    "tuner_space": space or SPACE, **extra}, sort_keys=False))
    return str(path)


def search_rows(out):
    return read_results(os.path.join(out, "search", "results.csv"))


@pytest.mark.slow
def test_grid_search_selects_on_validation_and_reruns_the_chosen_point(base, tmp_path):
    out = str(tmp_path / "tuned")
    trials, chosen = tune.run_tune(write_tuner(tmp_path, base), out_dir=out, seeds=[1, 2], log=lambda m: None,
                                   command="fuxictr-ssr tune (test)")
    rows = search_rows(out)
    assert len(trials) == len(rows) == 4 and {r["seed"] for r in rows} == {"2021"}
    best = max(rows, key=lambda r: float(r["valid_AUC"]))
    assert chosen["expid"] == best["expid"]
    # each trial is a runnable experiment of trials/; the chosen one is copied with its label
    trial = load_params(os.path.join(out, "trials"), chosen["expid"])
    tuned = load_params(os.path.join(out, "chosen"), "DNN_gen_tuned")
    for knob in ("embedding_regularizer", "net_dropout"):
        assert tuned[knob] == trial[knob]
    assert tuned["tuning"] == "tuned: 4 trials" and tuned["hidden_units"] == [16] and tuned["batch_size"] == 256
    final = read_results(os.path.join(out, "final", "results.csv"))
    assert sorted(r["seed"] for r in final) == ["1", "2"] and {r["expid"] for r in final} == {"DNN_gen_tuned"}
    assert "| DNN_gen_tuned | DNN | tuned: 4 trials | 2 |" in open(os.path.join(out, "final", "leaderboard.md")).read()
    report = open(os.path.join(out, "tuning.md")).read()
    assert all(f"| {r['expid']} |" in report for r in rows)
    assert f"| {chosen['expid']} |" in [line[:len(chosen["expid"]) + 4] for line in report.splitlines()
                                         if line.endswith("| chosen |")]
    assert "test" not in report.split("| trial |")[1].split("\n")[0]  # no test column in the trial table
    assert os.path.getsize(os.path.join(out, "tuning.png")) > 1000


def test_trial_configs_spell_out_shared_values(tmp_path):
    views = [8, 4]
    points = tune.grid_points({"num_views": [views, [16, 8]], "net_dropout": [0, 0.2]})
    folder = tune.write_config_folder(str(tmp_path / "trials"), "gen", {"data_root": "x"}, {"model": "SSR"},
                                      {f"t{i}": p for i, p in enumerate(points)})
    text = open(os.path.join(folder, "model_config.yaml")).read()
    assert "&" not in text and "*" not in text and text.count("num_views: [8, 4]") == 2  # no YAML aliases
    assert yaml.safe_load(text)["t1"] == {"num_views": [8, 4], "net_dropout": 0.2}


def test_choose_uses_validation_and_the_monitor_mode_never_test():
    rows = [{"expid": "a", "valid_AUC": "0.70", "valid_logloss": "0.50", "test_AUC": "0.90"},
            {"expid": "b", "valid_AUC": "0.80", "valid_logloss": "0.60", "test_AUC": "0.60"},
            {"expid": "c", "valid_AUC": "0.80", "valid_logloss": "0.55", "test_AUC": "0.99"}]
    assert tune.choose(rows, "AUC", "max")["expid"] == "b"  # first of the tie, whatever test says
    assert tune.choose(rows, "logloss", "min")["expid"] == "a"
    assert tune.choose(rows, {"AUC": 1, "logloss": -1}, "max")["expid"] == "c"  # 0.25 > 0.20, 0.20


@pytest.mark.slow
def test_an_interrupted_search_resumes_without_duplicates(base, tmp_path):
    out, messages = str(tmp_path / "tuned"), []
    tuner = write_tuner(tmp_path, base)
    tune.run_tune(tuner, out_dir=out, max_trials=3, search_only=True, log=lambda m: None)
    path = os.path.join(out, "search", "results.csv")
    lines = open(path).read().splitlines(keepends=True)
    kept = lines[:-1] + [lines[-1][:20]]  # the last trial's line torn by a kill
    open(path, "w").write("".join(kept))
    tune.run_tune(tuner, out_dir=out, max_trials=3, search_only=True, log=messages.append)
    assert any("2 already in" in m for m in messages) and sum(m.startswith("[1/1]") for m in messages) == 1
    rows = search_rows(out)
    assert len(rows) == 3 and len({r["expid"] for r in rows}) == 3
    messages.clear()
    tune.run_tune(tuner, out_dir=out, max_trials=3, search_only=True, log=messages.append)  # all done
    assert not any(m.startswith("[") for m in messages) and len(search_rows(out)) == 3
    assert not os.path.exists(os.path.join(out, "final"))


@pytest.mark.slow
def test_max_trials_draws_the_same_seeded_subset_every_time(base, tmp_path):
    assert tune.draw_trials(10, 3, 2021) == tune.draw_trials(10, 3, 2021) == sorted(tune.draw_trials(10, 3, 2021))
    assert tune.draw_trials(10, 3, 2021) != tune.draw_trials(10, 3, 7) and tune.draw_trials(4, 9, 1) == [0, 1, 2, 3]
    out = str(tmp_path / "tuned")
    trials, _ = tune.run_tune(write_tuner(tmp_path, base), out_dir=out, max_trials=2, search_only=True,
                              log=lambda m: None)
    expids = list(yaml.safe_load(open(os.path.join(out, "trials", "model_config.yaml"))))[1:]
    assert [t["expid"] for t in trials] == [expids[i] for i in tune.draw_trials(4, 2, 2021)]
    assert "tuned: 2 trials" in open(os.path.join(out, "chosen", "model_config.yaml")).read()


@pytest.mark.slow
def test_tpe_runs_the_budget_of_distinct_trials_and_resumes(base, tmp_path):
    pytest.importorskip("optuna")
    out = str(tmp_path / "tuned")
    tuner = write_tuner(tmp_path, base)
    trials, chosen = tune.run_tune(tuner, out_dir=out, sampler="tpe", max_trials=3, search_only=True,
                                   log=lambda m: None)
    assert len({t["expid"] for t in trials}) == 3 == len(search_rows(out))
    assert chosen == tune.choose(trials, "AUC", "max")
    again, _ = tune.run_tune(tuner, out_dir=out, sampler="tpe", max_trials=3, search_only=True, log=lambda m: None)
    assert [t["expid"] for t in again] == [t["expid"] for t in trials] and len(search_rows(out)) == 3


@pytest.mark.parametrize("change, message", [
    ({"base_expid": "Nope"}, "base_expid: --expid: experiment 'Nope' not found"),
    ({"tuner_space": {"net_dropout": [0, 0.1], "hiden_units": [[8]]}}, "tuner_space: hiden_units: not a key "
                                                                       "model DNN or the runner reads (did you mean 'hidden_units'?)"),
    ({"tuner_space": {}}, "tuner_space: expected a non-empty mapping"),
    ({"tuner_space": {"net_dropout": []}}, "tuner_space: net_dropout: empty list of values"),
    ({"tuner_space": {"net_dropout": 0.1}}, "tuner_space: no knob has more than one value"),
    ({"tuner_space": {"net_dropout": [0, 0], "batch_size": [64, 128]}}, "net_dropout: a value is listed twice"),
    ({"tuner_space": {"min_categr_count": [1, 2]}}, "min_categr_count: a dataset key takes one value"),
    ({"tuner_space": {"seed": [1, 2], "net_dropout": [0, 0.1]}}, "seed: a search runs one seed"),
    ({"tuner_space": {"model": ["DNN", "SSR"]}}, "tuner_space: model: not tunable"),
    ({"tuner_spaces": {}}, "tuner_spaces: unknown key of a tuner config"),
    ({"base_config": "no/such/folder"}, "base_config: config folder 'no/such/folder' not found"),
])
def test_bad_tuner_configs_fail_before_any_trial_naming_the_key(base, tmp_path, capsys, change, message):
    fields = {"base_config": base, "base_expid": "DNN_gen", "dataset_id": "gen", "tuner_space": SPACE, **change}
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(fields))
    out = tmp_path / "out"
    assert main(["tune", "--config", str(path), "--out", str(out)]) == 2
    assert message in capsys.readouterr().err and not out.exists()


def test_unsupported_monitor_and_budget_are_named(base, tmp_path):
    tuner = write_tuner(tmp_path, base)
    with pytest.raises(ValueError, match="--sampler tpe: give the budget with --max-trials"):
        tune.run_tune(tuner, sampler="tpe")
    with pytest.raises(ValueError, match="--max-trials: expected a positive integer"):
        tune.run_tune(tuner, max_trials=0)
    model_config = os.path.join(base, "model_config.yaml")
    blocks = yaml.safe_load(open(model_config))
    blocks["DNN_gen"]["monitor"] = "gAUC"
    yaml.safe_dump(blocks, open(model_config, "w"))
    with pytest.raises(ValueError, match="monitor: a search selects on the validation AUC or logloss"):
        tune.run_tune(tuner, out_dir=str(tmp_path / "out"))


@pytest.mark.slow
def test_a_leaderboard_over_several_folders_says_how_each_was_tuned(base, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    (other / "dataset_config.yaml").write_text(open(os.path.join(base, "dataset_config.yaml")).read())
    blocks = yaml.safe_load(open(os.path.join(base, "model_config.yaml")))
    (other / "model_config.yaml").write_text(yaml.safe_dump(
        {"Base": blocks["Base"], "DNN_gen_b": {**blocks["DNN_gen"], "tuning": "BARS grid"}}))
    out = str(tmp_path / "board")
    rows = run_benchmark([base, str(other)], [1], out, log=lambda m: None)
    assert sorted(r["expid"] for r in rows) == ["DNN_gen", "DNN_gen_b"]
    board = open(os.path.join(out, "leaderboard.md")).read()
    assert "| DNN_gen | DNN | untuned | 1 |" in board and "| DNN_gen_b | DNN | BARS grid | 1 |" in board
    (other / "model_config.yaml").write_text(yaml.safe_dump({"Base": blocks["Base"], "DNN_gen": blocks["DNN_gen"]}))
    with pytest.raises(ValueError, match="experiment 'DNN_gen' is defined in both"):
        run_benchmark([base, str(other)], [1], out, log=lambda m: None)


@pytest.mark.slow
def test_the_chosen_trials_own_seed_is_reused_not_rerun(base, tmp_path):
    out = str(tmp_path / "tuned")
    messages = []
    trials, chosen = tune.run_tune(write_tuner(tmp_path, base, space={"net_dropout": [0, 0.3]}), out_dir=out,
                                   seeds=[2021, 7], log=messages.append)
    final = {r["seed"]: r for r in read_results(os.path.join(out, "final", "results.csv"))}
    assert sorted(final) == ["2021", "7"]
    assert final["2021"]["test_AUC"] == chosen["test_AUC"] and final["2021"]["finished_at"] == chosen["finished_at"]
    assert any("the chosen trial" in m and "its row is reused" in m for m in messages)
    assert "2 runs (1 experiments x 2 seeds); 1 already in" in "\n".join(messages)
