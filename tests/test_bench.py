"""The leaderboard runner on a tiny generated suite: 2 models x 2 seeds, resume, leaderboard."""
import csv
import os

import numpy as np
import pytest

from fuxictr_ssr import bench, config, experiment, leaderboard, records
from fuxictr_ssr.bench import run_benchmark
from fuxictr_ssr.leaderboard import summarise
from fuxictr_ssr.records import RESULT_COLUMNS, read_results
from fuxictr_ssr.data import SyntheticSpec
from fuxictr_ssr.registry import constructor_keys, get_model_class, list_models
from helpers import generated_experiment

SUITE = {
    "DNN_gen": {"model": "DNN", "hidden_units": [16]},
    "SSR_D_gen": {"model": "SSR", "filter_type": "ics", "num_views": [2, 2], "view_dims": [8, 8]},
}


@pytest.fixture
def suite(tmp_path):
    spec = SyntheticSpec(num_rows=1500, num_fields=6, num_informative=2, num_interactions=1, vocab_size=8, seed=3)
    return generated_experiment(tmp_path, SUITE, spec=spec, base={"epochs": 1})


@pytest.mark.slow
def test_runs_every_expid_and_seed_then_resumes(suite, tmp_path):
    out = str(tmp_path / "results")
    messages = []
    rows = run_benchmark(suite, [1, 2], out, log=messages.append, command="fuxictr-ssr bench (test)")
    assert sorted((r["expid"], r["seed"]) for r in rows) == [
        ("DNN_gen", "1"), ("DNN_gen", "2"), ("SSR_D_gen", "1"), ("SSR_D_gen", "2")]
    with open(os.path.join(out, "results.csv"), newline="") as handle:
        assert csv.DictReader(handle).fieldnames == RESULT_COLUMNS
    for row in rows:
        assert 0.0 < float(row["test_AUC"]) < 1.0 and int(row["params_non_embedding"]) > 0
        assert int(row["best_epoch"]) == 1 and float(row["samples_per_s"]) > 0
        # SSR-D rows carry the share of zeros after ICS of each of their two layers; the DNN has none
        zeros = [float(share) for share in row["ics_zeros"].split("/")] if row["ics_zeros"] else []
        assert len(zeros) == (2 if row["model"] == "SSR" else 0) and all(0 <= share <= 1 for share in zeros)
        assert row["execution"] == "eager fp32"
    assert any(m.startswith("[4/4] SSR_D_gen seed 2") for m in messages)
    assert any("Epoch=1 end" in m for m in messages)  # progress of the child run

    leaderboard = open(os.path.join(out, "leaderboard.md")).read()
    assert "Seeds: 1, 2." in leaderboard and "fuxictr-ssr bench (test)" in leaderboard
    for expid in SUITE:
        assert f"| {expid} |" in leaderboard
    # every run's validation curve (one epoch here), and the plot of them beside the board
    from fuxictr_ssr.curves import read_curves
    curves = read_curves(out, rows)
    assert {expid: sorted(by_seed) for expid, by_seed in curves.items()} == {"DNN_gen": [1, 2], "SSR_D_gen": [1, 2]}
    assert all(len(points) == 1 and points[0][0] == 1 for by_seed in curves.values() for points in by_seed.values())
    assert os.path.getsize(os.path.join(out, "curves.png")) > 1000

    # report-only with a seed that never ran: nothing runs, the leaderboard keeps the rows there
    os.remove(os.path.join(out, "leaderboard.md"))
    assert len(run_benchmark(suite, [1, 2, 3], out, log=lambda m: None, report_only=True)) == 4
    assert "Seeds: 1, 2." in open(os.path.join(out, "leaderboard.md")).read()

    # a second call finds everything done and runs nothing
    again = []
    assert len(run_benchmark(suite, [1, 2], out, log=again.append)) == 4
    assert again == [f"4 runs (2 experiments x 2 seeds); 4 already in {os.path.join(out, 'results.csv')}"]


@pytest.mark.slow
def test_interrupted_benchmark_keeps_finished_runs_and_resumes(suite, tmp_path, monkeypatch):
    out = str(tmp_path / "results")
    real_run_one = bench.run_one
    calls = []

    def failing_second_run(*args, **kwargs):
        calls.append(args[1:3])
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_run_one(*args, **kwargs)

    monkeypatch.setattr(bench, "run_one", failing_second_run)
    with pytest.raises(KeyboardInterrupt):
        run_benchmark(suite, [1, 2], out, expids=["DNN_gen"], log=lambda m: None)
    assert [(r["expid"], r["seed"]) for r in read_results(os.path.join(out, "results.csv"))] == [("DNN_gen", "1")]
    monkeypatch.setattr(bench, "run_one", real_run_one)
    rows = run_benchmark(suite, [1, 2], out, expids=["DNN_gen"], log=lambda m: None)
    assert [(r["expid"], r["seed"]) for r in rows] == [("DNN_gen", "1"), ("DNN_gen", "2")]


def test_config_errors_stop_the_benchmark_before_any_run(suite, tmp_path):
    with pytest.raises(ValueError, match="--expids: Nope not found in .*available: DNN_gen, SSR_D_gen"):
        run_benchmark(suite, [1], str(tmp_path / "out"), expids=["DNN_gen", "Nope"], log=lambda m: None)
    assert not os.path.exists(tmp_path / "out" / "results.csv")


def test_a_dataset_without_test_split_is_named_before_any_run(suite, tmp_path):
    import yaml
    path = os.path.join(suite, "dataset_config.yaml")
    blocks = yaml.safe_load(open(path))
    for block in blocks.values():
        block.pop("test_data")
    yaml.safe_dump(blocks, open(path, "w"))
    with pytest.raises(ValueError, match="test_data: experiment 'DNN_gen' of .* has no test split"):
        run_benchmark(suite, [1], str(tmp_path / "out"), log=lambda m: None)
    assert not os.path.exists(tmp_path / "out" / "results.csv")


def test_summary_statistics_and_order():
    rows = [{"expid": e, "model": "M", "seed": s, "test_AUC": a, "test_logloss": "0.5", "valid_AUC": "0.7",
             "params_non_embedding": "10", "train_time_s": "1", "best_epoch": "2"}
            for e, s, a in [("A", 1, "0.70"), ("A", 2, "0.72"), ("B", 1, "0.80"), ("B", 2, "0.80")]]
    summary, _ = summarise(rows)
    assert [s["expid"] for s in summary] == ["B", "A"]
    assert summary[1]["test_AUC"][0] == pytest.approx(0.71)
    assert summary[1]["test_AUC"][1] == pytest.approx(0.0141421356, rel=1e-6)  # sample std
    assert summary[0]["test_AUC"][1] == 0.0


def test_bad_seed_list_is_named():
    from fuxictr_ssr.cli import parse_seeds
    assert parse_seeds("2021,190034") == [2021, 190034]
    with pytest.raises(ValueError, match="--seeds: expected comma-separated integers"):
        parse_seeds("2021,abc")


@pytest.mark.slow
def test_edited_config_is_rerun_and_stale_rows_are_left_out(suite, tmp_path):
    import yaml
    out = str(tmp_path / "results")
    first = run_benchmark(suite, [1], out, expids=["DNN_gen"], log=lambda m: None)
    path = os.path.join(suite, "model_config.yaml")
    blocks = yaml.safe_load(open(path))
    blocks["DNN_gen"]["hidden_units"] = [8]
    yaml.safe_dump(blocks, open(path, "w"))
    messages = []
    rows = run_benchmark(suite, [1], out, expids=["DNN_gen"], log=messages.append)
    assert messages[0].split("; ")[1] == "0 already in " + os.path.join(out, "results.csv")
    assert len(rows) == 1 and rows[0]["config_hash"] != first[0]["config_hash"]
    assert len(read_results(os.path.join(out, "results.csv"))) == 2
    assert "1 rows of earlier configs" in open(os.path.join(out, "leaderboard.md")).read()


def test_fingerprint_ignores_locations_and_seed_but_not_hyperparameters():
    from fuxictr_ssr.experiment import config_fingerprint
    base = {"model": "DNN", "hidden_units": [8], "seed": 1, "data_root": "a", "model_root": "x"}
    assert config_fingerprint(base) == config_fingerprint({**base, "seed": 2, "data_root": "b", "model_root": "y"})
    assert config_fingerprint(base) != config_fingerprint({**base, "hidden_units": [16]})


def test_the_hidden_layer_batch_norm_warm_start_is_in_the_hash_and_false_keeps_the_rows_from_before_it():
    from fuxictr_ssr.experiment import config_fingerprint
    dnn, ssr = {"model": "DNN", "hidden_units": [8], "batch_norm": True}, {"model": "SSR", "embedding_norm": "batch_norm"}
    before = experiment.hashlib.sha1(experiment.json.dumps(dnn, sort_keys=True).encode()).hexdigest()[:12]
    assert config_fingerprint(dnn) == config_fingerprint({**dnn, "batch_norm_warm_start": True}) != before
    assert config_fingerprint({**dnn, "batch_norm_warm_start": False}) == before
    assert config_fingerprint(ssr) != config_fingerprint({**ssr, "batch_norm_warm_start": False})


def _rows(expid, aucs):
    return [{"expid": expid, "model": expid.split("_")[0], "seed": str(seed), "test_AUC": str(auc),
             "test_logloss": "0.4", "valid_AUC": str(auc), "params_non_embedding": "1000", "train_time_s": "1",
             "best_epoch": "1", "device": "cpu", "fuxictr_version": "x", "torch_version": "y"}
            for seed, auc in enumerate(aucs, start=1)]


def _board(path, expids):
    """``{expid: {column header: cell}}`` of a written leaderboard's table."""
    lines = path.read_text().splitlines()
    header = next(line for line in lines if line.startswith("| rank |")).strip("| ").split(" | ")
    return {cells["expid"]: cells for cells in (dict(zip(header, line.strip("| ").split(" | "))) for line in lines
                                                if line.startswith("| ") and line.split(" | ")[1] in expids)}


def test_leaderboard_gives_gap_welch_p_and_verdict_for_every_experiment(tmp_path):
    from scipy import stats
    runs = {"A_x": [0.8100, 0.8102, 0.8101, 0.8103], "B_x": [0.8080, 0.8082, 0.8079],  # A clearly ahead
            "C_x": [0.8099, 0.8104, 0.8096],  # within 1e-3 of A
            "D_x": [0.8200, 0.8300]}  # the best mean, on two seeds: no test, and no one's best other
    rows = [row for expid, aucs in runs.items() for row in _rows(expid, aucs)]
    path = tmp_path / "leaderboard.md"
    leaderboard.write_leaderboard(str(path), "Criteo_x1", rows, "cmd")
    text, table = path.read_text(), _board(path, runs)
    means = {expid: sum(aucs) / len(aucs) for expid, aucs in runs.items()}
    for expid, cells in table.items():
        best_other = max((e for e in runs if e != expid and len(runs[e]) >= 3), key=means.get)
        assert cells["AUC vs best other"] == f"{means[expid] - means[best_other]:+.6f} ({best_other})"
        assert float(cells["test AUC"].split(" ± ")[0]) == pytest.approx(means[expid], abs=1e-6)
    p_b = stats.ttest_ind(runs["B_x"], runs["A_x"], equal_var=False).pvalue
    assert table["B_x"]["AUC p"] == f"{p_b:.3g}" and p_b < 0.05 and table["B_x"]["AUC verdict"] == "worse"
    assert table["C_x"]["AUC verdict"] == "tie"  # gap below 1e-3, whatever p
    assert table["D_x"]["AUC p"] == "-" and table["D_x"]["AUC verdict"] == "-"
    assert table["A_x"]["AUC verdict"] == "tie"  # its best other is C_x, 1e-4 behind
    assert [cells["expid"] for cells in sorted(table.values(), key=lambda c: int(c["rank"]))] == \
        sorted(runs, key=lambda e: -means[e])
    assert "FinalNet (published) | 0.8154 | 0.4365" in text and "Verdict: better (worse) only if" in text
    assert all(cells["vs DNN: AUC; logloss"] == "-" for cells in table.values())  # no DNN here


def test_logloss_gets_its_own_verdict_lower_being_better_and_every_row_is_tested_against_the_dnn(tmp_path):
    from scipy import stats
    auc = {"DNN_x": [0.8100, 0.8101, 0.8102], "DNN_wide_x": [0.8100, 0.8101, 0.8102],
           "S_x": [0.8095, 0.8096, 0.8094], "R_x": [0.8000, 0.8003, 0.8001]}
    logloss = {"DNN_x": [0.4500, 0.4502, 0.4501], "DNN_wide_x": [0.4500, 0.4502, 0.4501],
               "S_x": [0.4400, 0.4403, 0.4401], "R_x": [0.4505, 0.4490, 0.4515]}
    rows = []
    for expid in auc:
        for row, value in zip(_rows(expid, auc[expid]), logloss[expid]):
            row["test_logloss"] = str(value)
            row["valid_AUC"] = str(0.9 if expid == "DNN_x" else 0.8)  # the DNN with the best validation AUC
            rows.append(row)
    path = tmp_path / "leaderboard.md"
    leaderboard.write_leaderboard(str(path), "Frappe_x1", rows, "cmd")
    table = _board(path, auc)
    mean = {e: float(np.mean(v)) for e, v in logloss.items()}
    assert table["S_x"]["AUC verdict"] == "tie"  # 6e-4 behind on AUC ...
    p_s = stats.ttest_ind(logloss["S_x"], logloss["DNN_x"], equal_var=False).pvalue
    assert table["S_x"]["logloss vs best other"] == f"{mean['S_x'] - mean['DNN_x']:+.6f} (DNN_x)"
    assert table["S_x"]["logloss p"] == f"{p_s:.3g}" and table["S_x"]["logloss verdict"] == "better"  # ... 0.01 lower
    assert table["DNN_x"]["logloss verdict"] == "worse" and table["DNN_x"]["logloss vs best other"].endswith("(S_x)")
    assert table["R_x"]["logloss verdict"] == "worse"  # against S_x; against the DNN a tie (below)
    assert table["DNN_x"]["vs DNN: AUC; logloss"] == "reference"
    p_auc = stats.ttest_ind(auc["R_x"], auc["DNN_x"], equal_var=False).pvalue
    p_ll = stats.ttest_ind(logloss["R_x"], logloss["DNN_x"], equal_var=False).pvalue
    assert table["R_x"]["vs DNN: AUC; logloss"] == (f"{np.mean(auc['R_x']) - np.mean(auc['DNN_x']):+.6f} (p {p_auc:.3g}) "
                                                    f"worse; {mean['R_x'] - mean['DNN_x']:+.6f} (p {p_ll:.3g}) tie")
    assert table["DNN_wide_x"]["vs DNN: AUC; logloss"].startswith("+0.000000 (p ")
    assert "against DNN_x, the folder's DNN" in path.read_text()


def test_paper_protocol_folders_print_the_papers_table_3(tmp_path):
    rows = _rows("A_x", [0.80, 0.81, 0.805])
    leaderboard.write_leaderboard(str(tmp_path / "paper.md"), "Criteo_paper", rows, "cmd")
    leaderboard.write_leaderboard(str(tmp_path / "x1.md"), "Criteo_x1", rows, "cmd")
    paper, x1 = (tmp_path / "paper.md").read_text(), (tmp_path / "x1.md").read_text()
    assert "| SSR-D (paper) | 0.8096 | 0.4425 | 1.23M |" in paper and "| RankMixer (paper) | 0.8092" in paper
    assert "(paper) |" not in x1 and "so its numbers are not printed" in x1


def test_a_results_file_with_older_columns_is_upgraded_before_a_row_is_appended(tmp_path):
    path = tmp_path / "results.csv"
    old_columns = [c for c in records.RESULT_COLUMNS if c != "threads"]
    old_row = {c: f"old {c}" for c in old_columns}
    path.write_text(",".join(old_columns) + "\n" + ",".join(old_row.values()) + "\n")
    new_row = {c: f"new {c}" for c in records.RESULT_COLUMNS}
    records.append_result(str(path), new_row)
    rows = records.read_results(str(path))
    assert rows == [{**old_row, "threads": ""}, new_row]
    assert path.read_text().splitlines()[0] == ",".join(records.RESULT_COLUMNS)


def _fake_result(expid, seed):
    return {"expid": expid, "model": expid.split("_")[0], "dataset_id": "gen", "seed": seed, "valid": {"AUC": 0.6, "logloss": 0.6},
            "test": {"AUC": 0.7, "logloss": 0.5}, "best_epoch": 1, "epochs_run": 1, "params_non_embedding": 1,
            "params_total": 2, "train_time_s": 1.0, "samples_per_s": 1.0, "fuxictr_version": "x",
            "torch_version": "y", "device": "cpu", "threads": 1}


def test_resume_redoes_exactly_the_missing_and_stale_runs_wherever_they_are(suite, tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(bench, "run_one", lambda _, expid, seed, *args, **kwargs: calls.append((expid, seed))
                        or _fake_result(expid, seed))
    out = str(tmp_path / "results")
    run_benchmark(suite, [1, 2, 3], out, log=lambda m: None)
    assert len(calls) == 6
    path = os.path.join(out, "results.csv")
    rows = read_results(path)
    kept = [r for r in rows if (r["expid"], r["seed"]) not in {("DNN_gen", "2"), ("SSR_D_gen", "1")}]
    next(r for r in kept if (r["expid"], r["seed"]) == ("SSR_D_gen", "3"))["config_hash"] = "an-older-one"
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=RESULT_COLUMNS)
        writer.writeheader()
        writer.writerows(kept)
    calls.clear()
    run_benchmark(suite, [1, 2, 3], out, log=lambda m: None)
    assert sorted(calls) == [("DNN_gen", 2), ("SSR_D_gen", 1), ("SSR_D_gen", 3)]


# Every key that can change a result, written out (not derived from NOT_FINGERPRINTED, so a key
# wrongly added there fails here), and every constructor argument of every registered model
RESULT_KEYS = ["model", "dataset_id", "optimizer", "optimizer_epsilon", "embedding_optimizer", "loss",
               "learning_rate", "epochs", "batch_size", "shuffle", "monitor", "monitor_mode", "early_stop_patience",
               "save_best_only", "eval_steps", "reduce_lr_on_plateau", "max_gradient_norm", "embedding_regularizer",
               "net_regularizer", "data_loader", "block_rows", "streaming", "compile", "precision", "group_id",
               "use_features", "feature_specs", "feature_config", "min_categr_count", "feature_cols", "label_col",
               "feature_processor"]
MODEL_KEYS = sorted({key for name in list_models() for key in constructor_keys(get_model_class(name))}
                    - {"self", "feature_map", "kwargs", "gpu", "model_id"})


def test_the_model_keys_under_test_include_the_architecture_knobs():
    assert {"net_dropout", "num_views", "view_dims", "hidden_units", "ics_iterations"} <= set(MODEL_KEYS)


@pytest.mark.parametrize("key", sorted(set(RESULT_KEYS) | set(MODEL_KEYS)))
def test_every_key_that_can_change_a_result_changes_the_fingerprint(key):
    base = {"model": "SSR", "batch_size": 4096, "learning_rate": 1e-3, "view_dims": [64]}
    assert experiment.config_fingerprint({**base, key: "changed"}) != experiment.config_fingerprint(base)
    assert experiment.config_fingerprint({**base, "batch_size": 1024}) != experiment.config_fingerprint(base)


def test_leaderboard_columns_parse_back_to_the_csv_means(tmp_path):
    rows = _rows("A_x", [0.81, 0.82, 0.83]) + _rows("B_x", [0.70, 0.71, 0.72])
    for index, row in enumerate(rows):  # every column its own values
        row.update(valid_AUC=str(0.5 + index / 100), test_logloss=str(0.3 + index / 100),
                   params_non_embedding=str(1000 + index), best_epoch=str(index), train_time_s=str(10 + index))
    path = tmp_path / "leaderboard.md"
    leaderboard.write_leaderboard(str(path), "Frappe_x1", rows, "cmd")
    lines = path.read_text().splitlines()
    header = next(line for line in lines if line.startswith("| rank |")).strip("| ").split(" | ")
    table = {cells["expid"]: cells for cells in (dict(zip(header, line.strip("| ").split(" | "))) for line in lines
                                                 if line.startswith("| ") and line.split(" | ")[1] in ("A_x", "B_x"))}

    def mean(expid, column):
        return np.mean([float(r[column]) for r in rows if r["expid"] == expid])

    for expid, cells in table.items():
        assert float(cells["test AUC"].split(" ± ")[0]) == pytest.approx(mean(expid, "test_AUC"), abs=1e-6)
        assert float(cells["test logloss"].split(" ± ")[0]) == pytest.approx(mean(expid, "test_logloss"), abs=1e-6)
        assert float(cells["valid AUC"].split(" ± ")[0]) == pytest.approx(mean(expid, "valid_AUC"), abs=1e-6)
        assert float(cells["best epoch"]) == pytest.approx(mean(expid, "best_epoch"), abs=0.05)
        assert int(cells["seeds"]) == 3


def test_rows_record_their_code_version_and_command_and_the_leaderboard_lists_every_command(suite, tmp_path,
                                                                                            monkeypatch):
    monkeypatch.setattr(bench, "run_one", lambda _, expid, seed, *args, **kwargs: _fake_result(expid, seed))
    out = str(tmp_path / "results")
    run_benchmark(suite, [1], out, log=lambda m: None, command="fuxictr-ssr bench --seeds 1")
    run_benchmark(suite, [1, 2], out, log=lambda m: None, command="fuxictr-ssr bench --seeds 1,2")
    rows = read_results(os.path.join(out, "results.csv"))
    assert {r["code_version"] for r in rows} == {records.code_version()}
    assert records.code_version().startswith(__import__("fuxictr_ssr").__version__)
    assert sorted(r["command"] for r in rows) == ["fuxictr-ssr bench --seeds 1"] * 2 + ["fuxictr-ssr bench --seeds 1,2"] * 2
    text = open(os.path.join(out, "leaderboard.md")).read()
    assert "- `fuxictr-ssr bench --seeds 1`\n- `fuxictr-ssr bench --seeds 1,2`" in text


def test_a_fuxictr_style_config_folder_is_named_after_its_model_folder():
    assert experiment.folder_name("model_zoo/SSR/config/") == "SSR"
    assert experiment.folder_name("benchmark_configs/Frappe_x1") == "Frappe_x1"


def test_result_lines_quote_a_command_the_user_can_rerun():
    from fuxictr_ssr.records import user_command
    internal = ["/x/fuxictr_ssr/__main__.py", "run", "--config", "c", "--expid", "E", "--result-json", "/tmp/a/r.json",
                "--seed", "3"]
    assert user_command(internal) == "fuxictr-ssr run --config c --expid E --seed 3"
    assert user_command(["run_expid.py", "--expid", "E"]) == "python run_expid.py --expid E"
    assert user_command(["/x/pytest/__main__.py", "-q"]) == "python /x/pytest/__main__.py -q"  # another -m module


def test_a_study_leaderboard_is_titled_by_dataset_and_study_and_prints_its_datasets_references():
    assert experiment.folder_name("experiments/Frappe_x1/paper") == "Frappe_x1_paper"
    assert leaderboard.published_key("Frappe_x1_paper") == "Frappe_x1"
    assert leaderboard.published_key("Criteo_paper") == "Criteo_paper"  # not Criteo_x1's
    assert leaderboard.published_key("Avazu_x4_001") == "Avazu_x4_001"


def test_default_results_folders_mirror_their_configs_and_never_collide(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    configs = ["benchmark_configs/Frappe_x1", "experiments/Frappe_x1/paper", "experiments/Frappe_x1/tuned",
               "model_zoo/SSR/config/", "results/Frappe_x1_bf16/config", "tuning/Frappe_x1_grid"]
    outs = [experiment.default_results_folder(c) for c in configs]
    assert outs == ["results/Frappe_x1", "results/experiments/Frappe_x1/paper", "results/experiments/Frappe_x1/tuned",
                    "results/SSR", "results/Frappe_x1_bf16", "results/tuning/Frappe_x1_grid"]
    assert experiment.default_results_folder("benchmark_configs/Frappe_x1", under="results/scaling") == \
        "results/scaling/Frappe_x1"
    assert experiment.default_results_folder(str(tmp_path.parent)) == os.path.join("results", tmp_path.parent.name)


@pytest.mark.parametrize("gaps, verdict", [
    (([0.8100, 0.8101, 0.8102], [0.8105, 0.8106, 0.8107]), "tie"),  # significant, but below 1e-3
    (([0.8100, 0.8120, 0.8080], [0.8130, 0.8160, 0.8100]), "tie"),  # above 1e-3, but p > 0.05
    (([0.8100, 0.8101, 0.8102], [0.8115, 0.8116, 0.8117]), "better"),  # both
])
def test_a_verdict_needs_both_the_gap_and_the_significance(tmp_path, gaps, verdict):
    rows = _rows("A_x", gaps[0]) + _rows("B_x", gaps[1])
    path = tmp_path / "leaderboard.md"
    leaderboard.write_leaderboard(str(path), "Criteo_x1", rows, "cmd")
    assert _board(path, ["B_x"])["B_x"]["AUC verdict"] == verdict


def test_rows_made_under_max_epochs_are_not_rows_of_the_uncapped_config(tmp_path, monkeypatch):
    three_epochs = generated_experiment(tmp_path, SUITE, base={"epochs": 3})
    calls = []
    monkeypatch.setattr(bench, "run_one", lambda _, expid, seed, *args, **kwargs: calls.append(kwargs["max_epochs"])
                        or _fake_result(expid, seed))
    out = str(tmp_path / "results")
    run_benchmark(three_epochs, [1], out, expids=["DNN_gen"], max_epochs=1, log=lambda m: None)
    run_benchmark(three_epochs, [1], out, expids=["DNN_gen"], max_epochs=1, log=lambda m: None)
    run_benchmark(three_epochs, [1], out, expids=["DNN_gen"], log=lambda m: None)
    assert calls == [1, None]  # the capped run once, then the uncapped one


def test_a_board_mixing_tunings_names_each_group(tmp_path):
    rows = _rows("DNN_x", [0.81, 0.82, 0.83]) + _rows("S_x", [0.80, 0.81, 0.80]) + _rows("R_x", [0.7, 0.71, 0.7])
    tuning = {"DNN_x": "BARS-tuned", "S_x": "tuned: 12 trials", "R_x": "tuned: 12 trials"}
    leaderboard.write_leaderboard(str(tmp_path / "mixed.md"), "Frappe_x1", rows, "cmd", tuning=tuning)
    text = (tmp_path / "mixed.md").read_text()
    assert "Groups by tuning: **BARS-tuned**: DNN_x; **tuned: 12 trials**: S_x, R_x." in text
    leaderboard.write_leaderboard(str(tmp_path / "one.md"), "Frappe_x1", rows, "cmd")
    assert "Groups by tuning" not in (tmp_path / "one.md").read_text()  # one label: no groups
