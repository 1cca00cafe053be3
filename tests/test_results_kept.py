"""Results are never lost after the work and a results folder has one writer: every output location
is checked (and a result file's folder made) before any work, Ctrl-C is one line and a resume hint,
two commands cannot share a results folder, a repeated row never counts as a seed, and several
``--config`` folders really run together."""
import os
import subprocess
import sys

import pytest
import yaml

from fuxictr_ssr import bench, leaderboard
from fuxictr_ssr.records import read_results
from fuxictr_ssr.safe_files import claimed
from test_bench import _rows
from test_catalogue import assert_named_error, run


@pytest.fixture
def zoo(zoo_copy):
    return zoo_copy / "model_zoo" / "SSR"


@pytest.mark.slow
def test_result_files_in_folders_that_do_not_exist_yet_are_written(zoo):
    done = run(zoo, "run", "--expid", "SSR_test", "--result-csv", "new/a/x.csv", "--result-json", "other/x.json")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "[exp_id] SSR_test" in (zoo / "new" / "a" / "x.csv").read_text()
    assert '"expid": "SSR_test"' in (zoo / "other" / "x.json").read_text()


OUTPUT_CASES = [
    (["sparsity", "--checkpoint", "c.model", "--expid", "SSR_test", "--out", "a_file/s"], "--out"),
    (["scale", "--config", "config", "--family", "DNN", "--sizes", "1e4", "--out", "a_file/s"], "--out"),
    (["demo", "--work-dir", "a_file/demo"], "--work-dir"),
    (["data", "prepare", "Frappe_x1", "--source", "src", "--out", "a_file/frappe"], "--out"),
    (["data", "synth", "--out", "a_file/synth"], "--out"),
    (["data", "synth-criteo-raw", "--rows", "10", "--out", "a_file/train.txt"], "--out"),
    (["tune", "--config", "tuner.yaml", "--final-out", "a_file/final"], "--final-out"),
    (["bench", "--config", "config", "--out", "a_file/results"], "--out"),
]


@pytest.mark.parametrize("args,option", OUTPUT_CASES, ids=[" ".join(a[:2]) for a, _ in OUTPUT_CASES])
def test_every_output_under_a_file_is_named_before_any_work(zoo, args, option):
    (zoo / "a_file").write_text("")
    before = sorted(os.listdir(zoo))
    done = run(zoo, *args)
    assert_named_error(done, f"{option}: cannot write under 'a_file/", "a_file' is a file, not a folder")
    assert sorted(os.listdir(zoo)) == before  # nothing made, nothing read


def test_ctrl_c_in_a_benchmark_is_one_line_saying_what_is_kept(zoo, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(bench, "run_one", interrupted)
    done = run(zoo, "bench", "--config", "config", "--expids", "SSR_test", "--out", "results")
    assert done.returncode == 130
    assert "Interrupted during SSR_test seed 2021: the 0 runs this command finished are in " in done.stdout
    assert "rerun the same command to resume" in done.stdout
    assert done.stderr.strip() == ("fuxictr-ssr: interrupted; results written before the interrupt are kept (rerun "
                                   "the same command to resume a benchmark or a search)")
    assert "failed" not in done.stdout + done.stderr and "Traceback" not in done.stderr


def test_a_run_ended_by_ctrl_c_is_an_interrupt_not_a_failure(tmp_path, monkeypatch):
    class Interrupted:  # the run process as Ctrl-C leaves it: exit status 130
        stdout, returncode = iter(["Epoch=1 start\n"]), 130

        def __init__(self, *args, **kwargs):
            pass

        def wait(self):
            return self.returncode

        def poll(self):
            return self.returncode
    monkeypatch.setattr(subprocess, "Popen", Interrupted)
    with pytest.raises(KeyboardInterrupt):
        bench.run_one("config", "SSR_test", 2021, -1, str(tmp_path), None, lambda message: None)


def test_a_second_command_on_a_busy_results_folder_is_refused_by_name(zoo):
    os.makedirs(zoo / "results")
    with claimed(str(zoo / "results" / ".bench.lock"), "held"):  # a first bench, still running
        done = run(zoo, "bench", "--config", "config", "--expids", "SSR_test", "--out", "results")
    assert_named_error(done, "results folder 'results' is in use by another running process")
    assert not (zoo / "results" / "results.csv").exists()


def test_repeated_rows_of_an_experiment_and_seed_count_once(tmp_path):
    rows = _rows("A_x", [0.81, 0.82]) + _rows("A_x", [0.70]) + _rows("B_x", [0.80, 0.79])  # A_x seed 1 twice
    for row in rows:
        row["config_hash"] = "h"
    path = tmp_path / "results.csv"
    path.write_text(",".join(rows[0]) + "\n" + "".join(",".join(r.values()) + "\n" for r in rows))
    current = leaderboard.update_leaderboard(str(tmp_path), "Criteo_x1", str(path), {"A_x": "h", "B_x": "h"}, "cmd")
    assert [(r["expid"], r["seed"], r["test_AUC"]) for r in current] == [
        ("A_x", "1", "0.81"), ("A_x", "2", "0.82"), ("B_x", "1", "0.8"), ("B_x", "2", "0.79")]
    text = (tmp_path / "leaderboard.md").read_text()
    assert "| A_x | A | untuned | 2 | 0.815000 ± 0.007071 |" in text
    assert "(1 repeated rows of an experiment and seed already counted are left out; the first row of each is kept.)" \
        in text


def test_several_config_folders_run_into_one_leaderboard(zoo):
    other = zoo / "other_config"
    os.makedirs(other)
    (other / "dataset_config.yaml").write_text((zoo / "config" / "dataset_config.yaml").read_text())
    blocks = yaml.safe_load((zoo / "config" / "model_config.yaml").read_text())
    (other / "model_config.yaml").write_text(yaml.safe_dump({"Base": blocks["Base"],
                                                              "SSR_test_b": blocks["SSR_test"]}))
    assert_named_error(run(zoo, "bench", "--config", "config", "--config", "other_config"),
                       "--out: required with several --config folders (config, other_config)")
    done = run(zoo, "bench", "--config", "config", "--config", "other_config", "--expids", "SSR_test", "SSR_test_b",
               "--out", "results", "--report-only")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "2 runs (2 experiments x 1 seeds)" in done.stdout
    assert read_results(str(zoo / "results" / "results.csv")) == []


@pytest.mark.parametrize("change, fragment", [
    ({"monitor": "AUCC"}, "monitor: expected metric names of logloss"),
    ({"metrics": ["logloss", "AUCX"]}, "metrics: expected metric names of logloss, binary_crossentropy, AUC"),
    ({"monitor": {"AUC": 1, "loglos": -1}}, "'loglos'"),
])
def test_unknown_metrics_are_named_before_work(zoo, change, fragment):
    from test_catalogue import edit
    edit(zoo, **change)
    assert_named_error(run(zoo, "run", "--expid", "SSR_test"), fragment)
    assert not (zoo / "checkpoints").exists()


@pytest.mark.parametrize("expid", ["/tmp/elsewhere", "../up", "a/b"])
def test_an_experiment_id_that_is_a_path_is_refused(zoo, expid):
    blocks = yaml.safe_load((zoo / "config" / "model_config.yaml").read_text())
    blocks[expid] = blocks["SSR_test"]
    (zoo / "config" / "model_config.yaml").write_text(yaml.safe_dump(blocks, sort_keys=False))
    assert_named_error(run(zoo, "run", "--expid", expid), f"model_id: expected a plain name", repr(expid))


def test_a_dataset_id_that_is_a_path_is_refused(zoo):
    from test_catalogue import edit
    datasets = yaml.safe_load((zoo / "config" / "dataset_config.yaml").read_text())
    datasets["../tiny"] = datasets["tiny_synthetic"]
    (zoo / "config" / "dataset_config.yaml").write_text(yaml.safe_dump(datasets))
    edit(zoo, dataset_id="../tiny")
    assert_named_error(run(zoo, "run", "--expid", "SSR_test"), "dataset_id: expected a plain name")


@pytest.mark.slow
def test_more_threads_than_cores_is_a_warning_and_the_cores(zoo):
    done = run(zoo, "run", "--expid", "SSR_test", "--threads", "100000", "--max-epochs", "1")
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"warning: --threads 100000 is more than this machine's {os.cpu_count()} cores" in done.stderr


@pytest.mark.slow
def test_run_expid_takes_data_root_and_max_epochs(zoo):
    done = subprocess.run([sys.executable, "run_expid.py", "--expid", "SSR_test", "--max-epochs", "1",
                           "--data-root", "../../data/"], cwd=zoo, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Epoch=2" not in done.stdout + done.stderr


def test_a_report_of_some_expids_shows_just_those(tmp_path):
    from fuxictr_ssr.bench import run_benchmark
    from helpers import generated_experiment
    config = generated_experiment(tmp_path, {"A_gen": {"model": "DNN", "hidden_units": [8]},
                                             "B_gen": {"model": "DNN", "hidden_units": [4]}})
    out = tmp_path / "results"
    os.makedirs(out)
    rows = _rows("A_gen", [0.7, 0.71]) + _rows("B_gen", [0.6, 0.61])
    fingerprints = {r: bench.current_fingerprints(config, [r])[r] for r in ("A_gen", "B_gen")}
    for row in rows:
        row["config_hash"] = fingerprints[row["expid"]]
    (out / "results.csv").write_text(",".join(rows[0]) + "\n" + "".join(",".join(r.values()) + "\n" for r in rows))
    run_benchmark(config, [1, 2], str(out), expids=["B_gen"], report_only=True, log=lambda m: None)
    board = (out / "leaderboard.md").read_text()
    assert "| B_gen |" in board and "| A_gen |" not in board


def _append_many(path, tag, count):
    from fuxictr_ssr.safe_files import append_line
    for number in range(count):
        append_line(path, f"{tag}{number:05d}," + tag * 2000)


def test_concurrent_appends_never_interleave_within_a_line(tmp_path):
    import multiprocessing
    path = str(tmp_path / "rows.csv")
    context = multiprocessing.get_context("fork")
    writers = [context.Process(target=_append_many, args=(path, tag, 300)) for tag in "ab"]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()
    lines = open(path).read().splitlines()
    assert len(lines) == 600
    assert all(line == line[0] + line[1:6] + "," + line[0] * 2000 for line in lines)


def test_an_append_is_one_write_so_a_failure_after_it_leaves_the_line_whole(tmp_path, monkeypatch):
    """What makes a kill leave a row whole or absent: the line goes out in one write. A second
    write for the same line (a disk filling up, a kill) would leave half of it."""
    from fuxictr_ssr import safe_files
    real_write, writes = os.write, []

    def write_then_fail(descriptor, data):
        writes.append(data)
        if len(writes) > 1:
            raise OSError(28, "No space left on device")
        return real_write(descriptor, data)
    monkeypatch.setattr(safe_files.os, "write", write_then_fail)
    line = "expid,seed," + "x" * 500
    safe_files.append_line(str(tmp_path / "rows.csv"), line)
    assert (tmp_path / "rows.csv").read_text() == line + "\n" and len(writes) == 1


@pytest.mark.slow
def test_a_full_disk_at_a_checkpoint_is_named_and_keeps_the_previous_one(zoo, monkeypatch):
    import torch
    from test_catalogue import edit
    edit(zoo, epochs=2, save_best_only=False)  # a save every epoch, improved or not
    real_save, saves = torch.save, []

    def full_on_second_save(obj, path, *args, **kwargs):
        saves.append(path)
        if len(saves) > 1:
            open(path, "wb").write(b"partial")
            raise RuntimeError("[enforce fail at inline_container.cc:626] . unexpected pos; No space left on device")
        return real_save(obj, path, *args, **kwargs)
    monkeypatch.setattr(torch, "save", full_on_second_save)
    done = run(zoo, "run", "--expid", "SSR_test", "--result-csv", "results.csv")
    assert_named_error(done, "SSR_test.model: the disk is full (about", "MB needed for the checkpoint)", line=-1)
    checkpoint = next((zoo / "checkpoints").rglob("SSR_test.model"))
    assert torch.load(checkpoint, map_location="cpu") and not list((zoo / "checkpoints").rglob("*.tmp"))
    assert not (zoo / "results.csv").exists()
