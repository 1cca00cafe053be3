"""Bad inputs as a user meets them, through the real command line on the tiny committed data: each
stops with exit code 2 and a first line naming the key, file or option, before any training (or
gets the documented behaviour), and a crash never leaves a result that breaks the next run."""
import glob
import gzip
import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest
import yaml

from fuxictr_ssr.records import read_results
from helpers import run_cli

CLI = [sys.executable, "-m", "fuxictr_ssr"]


@pytest.fixture
def zoo(zoo_copy):
    return zoo_copy / "model_zoo" / "SSR"


def edit(zoo, expid="SSR_test", **changes):
    path = zoo / "config" / "model_config.yaml"
    blocks = yaml.safe_load(path.read_text())
    blocks[expid].update(changes)
    path.write_text(yaml.safe_dump(blocks, sort_keys=False))


run = run_cli  # the command line in this process, in the folder ``zoo``


def run_process(zoo, *args, timeout=300):
    """The command line as its own process, where the process is the subject (locks, signals)."""
    return subprocess.run(CLI + list(args), cwd=zoo, capture_output=True, text=True, timeout=timeout)


def assert_named_error(done, *fragments, line=0):
    """Exit code 2 and the error on stderr's first line (``line=-1``: its last, for an error that
    can only show during training, after the run's log lines)."""
    assert done.returncode == 2, done.stderr[-2000:]
    first = done.stderr.strip().splitlines()[line]
    assert first.startswith("fuxictr-ssr: error: "), done.stderr[-2000:]
    for fragment in fragments:
        assert fragment in first, first
    assert "Traceback" not in done.stderr


CONFIG_CASES = [
    ({"optimizer": "adamw2"}, ["optimizer: expected a torch.optim optimizer name", "'adamw2'"]),
    ({"loss": "focal_loss"}, ["loss: expected one of bce", "'focal_loss'"]),
    ({"alpha_init": "0.1"}, ["alpha_init: expected a number, got '0.1'"]),
    ({"ics_gate": "False"}, ["ics_gate: expected true or false, got 'False'"]),
    ({"early_stop_patience": -1}, ["early_stop_patience: expected a positive integer, got -1"]),
    ({"layer_norm_eps": -1}, ["layer_norm_eps: expected a number > 0, got -1"]),
    ({"embedding_norm_momentum": 1.5}, ["embedding_norm_momentum: expected a number in (0, 1]"]),
    ({"view_dim": [8, 8], "strict_keys": True}, ["view_dim: unknown key", "did you mean 'view_dims'?"]),
]


@pytest.mark.parametrize("changes,fragments", CONFIG_CASES, ids=[next(iter(c)) for c, _ in CONFIG_CASES])
def test_bad_experiment_value_is_named_before_work(zoo, changes, fragments):
    edit(zoo, **changes)
    done = run(zoo, "run", "--expid", "SSR_test")
    assert_named_error(done, *fragments)
    assert not (zoo / "checkpoints").exists()  # nothing started


def test_yaml_syntax_error_names_file_and_line(zoo):
    path = zoo / "config" / "model_config.yaml"
    path.write_text(path.read_text() + "\nbroken: [1, 2\n")
    assert_named_error(run(zoo, "run", "--expid", "SSR_test"), "model_config.yaml: not valid YAML at line")


def test_experiment_block_that_is_a_list_is_named(zoo):
    path = zoo / "config" / "model_config.yaml"
    blocks = yaml.safe_load(path.read_text())
    blocks["SSR_test"] = list(blocks["SSR_test"].items())
    path.write_text(yaml.safe_dump(blocks))
    assert_named_error(run(zoo, "run", "--expid", "SSR_test"), "experiment 'SSR_test': expected a mapping")


def test_duplicate_expid_in_one_file_and_across_files(zoo):
    path = zoo / "config" / "model_config.yaml"
    text = path.read_text()
    path.write_text(text + "\nSSR_test:\n    model: SSR\n")
    assert_named_error(run(zoo, "run", "--expid", "SSR_test"), "duplicate key 'SSR_test'")
    path.unlink()
    (zoo / "config" / "model_config").mkdir()
    (zoo / "config" / "model_config" / "a.yaml").write_text(text)
    (zoo / "config" / "model_config" / "b.yaml").write_text("SSR_test:\n    model: SSR\n    dataset_id: x\n")
    assert_named_error(run(zoo, "run", "--expid", "SSR_test"), "experiment 'SSR_test' is defined twice")


@pytest.mark.parametrize("column,fragment", [
    ({"dtype": "string"}, "dtype: expected one of str, int, float, got 'string'"),
    ({"type": "categorial"}, "type: expected one of categorical, numeric, sequence, meta, got 'categorial'"),
])
def test_bad_feature_column_is_named_and_never_evaluated(zoo, column, fragment):
    path = zoo / "config" / "dataset_config.yaml"
    blocks = yaml.safe_load(path.read_text())
    blocks["tiny_synthetic"]["feature_cols"][0].update(column)
    path.write_text(yaml.safe_dump(blocks))
    assert_named_error(run(zoo, "run", "--expid", "SSR_test"), "feature_cols[1]", fragment)


@pytest.mark.slow
def test_typo_of_a_known_key_is_a_warning_naming_the_closest_key(zoo):
    edit(zoo, epoch=3)
    done = run(zoo, "run", "--expid", "SSR_test")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "warning: epoch: unknown key in experiment 'SSR_test' (did you mean 'epochs'?)" in done.stderr


@pytest.mark.parametrize("option", ["--result-csv", "--result-json"])
def test_output_under_a_file_is_named_before_training(zoo, option):
    (zoo / "a_file").write_text("")
    done = run(zoo, "run", "--expid", "SSR_test", option, "a_file/out")
    assert_named_error(done, f"{option}: cannot write under 'a_file/out'")
    assert not (zoo / "checkpoints").exists()


def test_model_root_under_a_file_is_named_before_training(zoo):
    (zoo / "a_file").write_text("")
    edit(zoo, model_root="a_file/checkpoints")
    assert_named_error(run(zoo, "run", "--expid", "SSR_test"), "model_root: cannot write under")


def test_non_finite_loss_stops_the_run_naming_epoch_and_batch(zoo):
    edit(zoo, embedding_regularizer=1.0e300)
    done = run(zoo, "run", "--expid", "SSR_test")
    assert_named_error(done, "the training loss (inf) became non-finite at epoch 1, batch 1",
                       "learning_rate too high", line=-1)


@pytest.mark.slow
def test_bench_options(zoo):
    assert_named_error(run(zoo, "bench", "--config", "config", "--expids", "SSR_test", "--nproc", "0"),
                       "--nproc: expected a positive integer, got 0")
    (zoo / "a_file").write_text("")
    assert_named_error(run(zoo, "bench", "--config", "config", "--expids", "SSR_test", "--out", "a_file/results"),
                       "--out: cannot write under 'a_file/results'")
    done = run(zoo, "bench", "--config", "config", "--expids", "SSR_test", "SSR_test", "--seeds", "2021,2021",
               "--out", "results", "--report-only")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "--expids: repeated values dropped (SSR_test, SSR_test -> SSR_test)" in done.stdout
    assert "--seeds: repeated values dropped (2021, 2021 -> 2021)" in done.stdout
    assert "1 runs (1 experiments x 1 seeds)" in done.stdout


@pytest.mark.slow
def test_torn_last_row_is_skipped_named_and_redone(zoo):
    out = zoo / "results"
    done = run(zoo, "bench", "--config", "config", "--expids", "SSR_test", "--seeds", "1,2", "--out", "results")
    assert done.returncode == 0, done.stderr[-2000:]
    rows = (out / "results.csv").read_text()
    header, first, second = rows.splitlines()
    (out / "results.csv").write_text(f"{header}\n{first}\n{second[:len(second) // 2]}")  # killed mid-row
    done = run(zoo, "bench", "--config", "config", "--expids", "SSR_test", "--seeds", "1,2", "--out", "results")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "results.csv: line 3 is incomplete" in done.stderr
    assert "1 already in" in done.stdout and "[1/1] SSR_test seed 2" in done.stdout
    lines = (out / "results.csv").read_text().splitlines()
    assert len(lines) == 4 and lines[3].startswith("SSR_test,SSR,2,")  # the torn line stays on its own line


def _children(pid):
    """Children of every thread of ``pid`` (bench starts its runs from worker threads)."""
    found = []
    for children in glob.glob(f"/proc/{pid}/task/*/children"):
        try:
            found += [int(p) for p in open(children).read().split()]
        except OSError:
            pass
    return found


def _run_children(pid):
    """The benchmark's training processes (``-m fuxictr_ssr run``), not its other children (git)."""
    found = []
    for child in _children(pid):
        try:
            if b"fuxictr_ssr\x00run\x00" in open(f"/proc/{child}/cmdline", "rb").read():
                found.append(child)
        except OSError:
            pass
    return found


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parent-death signal is Linux's")
def test_killed_benchmark_takes_its_run_with_it(zoo):
    # silent on stdout: a run that printed would also die of the closed pipe, safeguard or not
    edit(zoo, epochs=200, early_stop_patience=200, log_to_console=False, verbose=0)
    bench = subprocess.Popen(CLI + ["bench", "--config", "config", "--expids", "SSR_test", "--out", "results"],
                             cwd=zoo, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while not _run_children(bench.pid) and time.time() < deadline:
        time.sleep(0.2)
    child = _run_children(bench.pid)[0]
    time.sleep(3)
    os.kill(bench.pid, signal.SIGKILL)
    bench.wait()
    deadline = time.time() + 30
    while os.path.exists(f"/proc/{child}") and time.time() < deadline:
        time.sleep(0.2)
        try:
            os.waitpid(child, os.WNOHANG)
        except ChildProcessError:
            pass
    state = open(f"/proc/{child}/stat").read().split()[2] if os.path.exists(f"/proc/{child}") else "gone"
    assert state in ("gone", "Z"), f"the run outlived its benchmark (state {state})"
    assert not (zoo / "results" / "config.csv").exists()  # no orphan appended a result line


# ---------------------------------------------------------------- bad data

def edit_split(zoo, split, change):
    """Apply ``change`` (a function of the csv's lines) to ``split`` of the tiny data."""
    path = zoo.parent.parent / "data" / "tiny_synthetic" / f"{split}.csv"
    path.write_text("\n".join(change(path.read_text().splitlines())) + "\n")


def edit_line(number, change):
    """A ``change`` for :func:`edit_split` that rewrites the cells of one (1-based) line."""
    def apply(lines):
        lines[number - 1] = ",".join(change(lines[number - 1].split(",")))
        return lines
    return apply


def make_f12_numeric(zoo):
    path = zoo / "config" / "dataset_config.yaml"
    blocks = yaml.safe_load(path.read_text())
    categorical = [f"f{i:02d}" for i in range(1, 12)]
    blocks["tiny_synthetic"]["feature_cols"] = [
        {"name": categorical, "active": True, "dtype": "str", "type": "categorical"},
        {"name": "f12", "active": True, "dtype": "float", "type": "numeric"}]
    path.write_text(yaml.safe_dump(blocks, sort_keys=False))


TRAIN_CSV = "train_data: ../../data/tiny_synthetic/train.csv"
DATA_CASES = [
    ("header only", lambda lines: lines[:1], f"{TRAIN_CSV} has a header but no rows"),
    ("label 'yes'", edit_line(6, lambda cells: ["yes"] + cells[1:]),
     f"{TRAIN_CSV}, column 'label': 1 labels that are not 0 or 1; the first, 'yes', at line 6"),
    ("label missing", edit_line(6, lambda cells: [""] + cells[1:]),
     f"{TRAIN_CSV}, column 'label': 1 missing labels"),
    ("ragged row", edit_line(6, lambda cells: cells[:-2]),
     f"{TRAIN_CSV}, line 6: 11 cells where the header has 13 (1 such rows"),
]


@pytest.mark.parametrize("change, fragment", [case[1:] for case in DATA_CASES], ids=[c[0] for c in DATA_CASES])
def test_bad_raw_csv_is_named_by_file_line_and_column_before_work(zoo, change, fragment):
    edit_split(zoo, "train", change)
    assert_named_error(run(zoo, "run", "--expid", "SSR_test"), fragment)
    assert not (zoo.parent.parent / "data" / "tiny_synthetic" / "feature_map.json").exists()


@pytest.mark.parametrize("value, fragment", [
    ("abc", "1 values that are not numbers (a numeric column); the first, 'abc', at line 7"),
    ("inf", "1 non-finite values (inf, nan or |x| > 3.4e38, beyond float32); the first, 'inf', at line 7"),
    ("1e300", "1 non-finite values (inf, nan or |x| > 3.4e38, beyond float32); the first, '1e300', at line 7"),
    ("nan", "1 non-finite values"),
])
def test_bad_numeric_value_is_named_with_its_column(zoo, value, fragment):
    make_f12_numeric(zoo)
    edit_split(zoo, "train", edit_line(7, lambda cells: cells[:-1] + [value]))
    assert_named_error(run(zoo, "run", "--expid", "SSR_test"), f"{TRAIN_CSV}, column 'f12': {fragment}")


@pytest.mark.slow
def test_numeric_column_with_empty_cells_trains(zoo):
    make_f12_numeric(zoo)
    edit_split(zoo, "train", edit_line(7, lambda cells: cells[:-1] + [""]))  # fuxictr's missing value
    done = run(zoo, "run", "--expid", "SSR_test")
    assert done.returncode == 0, done.stderr[-2000:]


def test_compressed_csv_is_named(zoo):
    data = zoo.parent.parent / "data" / "tiny_synthetic"
    (data / "train.csv.gz").write_bytes(gzip.compress((data / "train.csv").read_bytes()))
    path = zoo / "config" / "dataset_config.yaml"
    path.write_text(path.read_text().replace("tiny_synthetic/train.csv", "tiny_synthetic/train.csv.gz"))
    assert_named_error(run(zoo, "run", "--expid", "SSR_test"),
                       f"{TRAIN_CSV}.gz is compressed; raw csv is read as plain text")


@pytest.mark.slow
def test_truncated_gzip_source_is_named_by_data_prepare(tmp_path):
    from test_prepare import FRAPPE_LINES
    source = tmp_path / "afn"
    source.mkdir()
    blob = gzip.compress(("\n".join(FRAPPE_LINES * 200) + "\n").encode())
    (source / "train.libsvm.gz").write_bytes(blob[:len(blob) // 2])
    for split in ("valid", "test"):
        (source / f"{split}.libsvm").write_text("\n".join(FRAPPE_LINES) + "\n")
    done = subprocess.run(CLI + ["data", "prepare", "Frappe_x1", "--source", str(source), "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=120)
    assert_named_error(done, "train.libsvm.gz: the compressed file is truncated or damaged")
    assert not (tmp_path / "out" / "train.csv").exists() and not (tmp_path / "out" / "train.csv.tmp").exists()


@pytest.mark.parametrize("split", ["valid", "test"])
def test_split_with_one_class_is_named_before_training(zoo, split):
    edit_split(zoo, split, lambda lines: lines[:1] + ["0" + line[1:] for line in lines[1:]])
    done = run(zoo, "run", "--expid", "SSR_test")
    assert_named_error(done, f"{split}_data: ", "label 'label' is [0.0] in all 400 rows; AUC (in metrics or monitor) "
                       "needs both classes in this split", line=-1)
    assert "Epoch=1" not in done.stderr


@pytest.mark.slow
def test_ids_beyond_the_feature_maps_vocabulary_are_named(zoo):
    assert run(zoo, "run", "--expid", "SSR_test").returncode == 0
    path = zoo.parent.parent / "data" / "tiny_synthetic" / "feature_map.json"
    content = json.loads(path.read_text())
    next(item["f03"] for item in content["features"] if "f03" in item)["vocab_size"] = 3  # from other data
    path.write_text(json.dumps(content))
    assert_named_error(run(zoo, "run", "--expid", "SSR_test"), "train.h5: column 'f03' holds id",
                       "outside [0, 3) of its feature map's vocab_size", line=-1)


@pytest.mark.slow
def test_a_raw_csv_replaced_after_its_store_was_built_rebuilds_it(zoo):
    assert run(zoo, "run", "--expid", "SSR_test").returncode == 0
    edit_split(zoo, "train", lambda lines: lines[:2001])  # half the rows: another file
    done = run(zoo, "run", "--expid", "SSR_test")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "train_data: ../../data/tiny_synthetic/train.csv changed (its size or its first or last MiB) since" in done.stderr
    assert "Stored 2000 rows in ../../data/tiny_synthetic/train.h5" in done.stderr
    again = run(zoo, "run", "--expid", "SSR_test")
    assert "changed (its size" not in again.stderr and "Stored" not in again.stderr


@pytest.mark.slow
def test_sparsity_checkpoint_of_another_experiment_or_not_a_checkpoint_is_named(trained_zoo):
    zoo = trained_zoo
    checkpoint = "checkpoints/tiny_synthetic/SSR_test.model"
    done = run(zoo, "sparsity", "--expid", "SSR_S_test", "--checkpoint", checkpoint)
    assert_named_error(done, f"--checkpoint: '{checkpoint}' does not fit experiment 'SSR_S_test'",
                       "was it saved by another experiment?")
    (zoo / "notes.model").write_text("not a checkpoint")
    assert_named_error(run(zoo, "sparsity", "--expid", "SSR_test", "--checkpoint", "notes.model"),
                       "--checkpoint: 'notes.model' is not a model checkpoint saved by a run")


def _metrics(out):
    rows = {row["seed"]: row for row in read_results(str(out / "results.csv"))}
    return {seed: {k: row[k] for k in ("valid_AUC", "valid_logloss", "test_AUC", "test_logloss", "best_epoch",
                                       "threads")} for seed, row in rows.items()}


@pytest.mark.slow
def test_a_killed_and_resumed_benchmark_gives_the_uninterrupted_metrics(zoo):
    edit(zoo, epochs=3, early_stop_patience=5)
    args = ["bench", "--config", "config", "--expids", "SSR_test", "--seeds", "1,2", "--threads", "2"]
    assert run(zoo, *args, "--out", "whole").returncode == 0
    resumed = zoo / "resumed" / "results.csv"
    process = subprocess.Popen(CLI + args + ["--out", "resumed"], cwd=zoo, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while not (resumed.exists() and len(resumed.read_text().splitlines()) == 2) and time.time() < deadline:
        time.sleep(0.2)
    time.sleep(1)  # seed 2 is under way (its process starts; a run takes several seconds)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert len(resumed.read_text().splitlines()) == 2
    # the restart sees another thread setting in its environment; the pinned count decides
    done = subprocess.run(CLI + args + ["--out", "resumed"], cwd=zoo, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-2000:]
    assert "1 already in" in done.stdout
    assert _metrics(zoo / "resumed") == _metrics(zoo / "whole")
    assert {row["threads"] for row in _metrics(zoo / "whole").values()} == {"2"}


@pytest.mark.slow
def test_a_run_killed_while_building_its_h5_store_rebuilds_it_next_time(tmp_path):
    from fuxictr_ssr.data import SyntheticSpec
    from helpers import generated_experiment
    spec = SyntheticSpec(num_rows=400_000, num_fields=10, num_informative=3, num_interactions=1, vocab_size=50, seed=7)
    config_dir = generated_experiment(tmp_path, {"DNN_gen": {"model": "DNN", "hidden_units": [8]}}, spec=spec,
                                      base={"epochs": 1, "batch_size": 4096})
    store = tmp_path / "data" / "gen"
    args = CLI + ["run", "--config", config_dir, "--expid", "DNN_gen"]
    process = subprocess.Popen(args, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while not list(store.glob("*.h5.tmp")) and time.time() < deadline and process.poll() is None:
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert list(store.glob("*.h5.tmp")), "the build finished before it could be killed; use more rows"
    assert not (store / "feature_map.json").exists()  # the store is not taken for finished
    done = subprocess.run(args, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert re.search(r"Stored 320000 rows in .*train\.h5", done.stderr)
    assert (store / "feature_map.json").exists() and not list(store.glob("*.tmp"))


@pytest.mark.slow
def test_two_runs_sharing_a_data_folder_build_its_store_once(tmp_path):
    from fuxictr_ssr.data import SyntheticSpec
    from fuxictr_ssr.safe_files import exclusive
    from helpers import generated_experiment
    spec = SyntheticSpec(num_rows=200_000, num_fields=6, num_informative=3, num_interactions=1, vocab_size=30, seed=3)
    config_dir = generated_experiment(tmp_path, {expid: {"model": "DNN", "hidden_units": [8]} for expid in ("A", "B")},
                                      spec=spec, base={"epochs": 1, "batch_size": 4096})
    # Both start while the folder is locked, so neither can have built before the other looks
    with exclusive(str(tmp_path / "data" / "gen")):
        processes = [subprocess.Popen(CLI + ["run", "--config", config_dir, "--expid", expid], cwd=tmp_path,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                     for expid in ("A", "B")]
        time.sleep(8)
    errors = [process.communicate(timeout=600)[1] for process in processes]
    assert [process.returncode for process in processes] == [0, 0], errors[0][-2000:] + errors[1][-2000:]
    assert sum(len(re.findall(r"Stored \d+ rows in .*train\.h5", text)) for text in errors) == 1


@pytest.mark.slow
def test_a_second_run_of_an_expid_in_progress_is_refused_before_it_starts(zoo):
    from fuxictr_ssr.safe_files import claimed
    run_files = zoo / "checkpoints" / "tiny_synthetic"
    with claimed(str(run_files / "SSR_test.log"), "the test's hold"):  # what a run in progress holds
        refused = run_process(zoo, "run", "--expid", "SSR_test")
    assert_named_error(refused, "expid 'SSR_test' (its checkpoint and log) is in use by another running process",
                       "SSR_test.log")
    assert (run_files / "SSR_test.log").read_text() == ""  # refused before any work
    done = run(zoo, "run", "--expid", "SSR_test")  # the lock went with its holder
    assert done.returncode == 0, done.stderr[-2000:]
    # no lock or temporary left; the run's curves beside its log
    assert sorted(os.listdir(run_files)) == ["SSR_test.curves.jsonl", "SSR_test.log", "SSR_test.model"]


@pytest.mark.slow
def test_an_ssr_s_view_wider_than_its_input_is_a_warning(zoo):
    edit(zoo, "SSR_S_test", view_dims=[64, 16])  # 12 fields x 4 = 48 inputs
    done = run(zoo, "run", "--expid", "SSR_S_test")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "SSR layer 1: view_dims 64 is wider than its input (48 values): each view repeats inputs" in done.stderr
    assert "SSR layer 2" not in done.stderr  # 4 x 64 = 256 inputs there


@pytest.mark.slow
def test_the_device_is_logged_and_an_absent_gpu_is_a_warning(zoo):
    import torch
    done = run(zoo, "run", "--expid", "SSR_test", "--gpu", "0")
    assert done.returncode == 0, done.stderr[-2000:]
    if torch.cuda.is_available():
        assert "Device: cuda:0 (model class fuxictr_ssr.models.ssr.SSR)" in done.stderr
    else:
        assert "warning: --gpu 0: CUDA is not available here" in done.stderr
        assert "Device: cpu (model class fuxictr_ssr.models.ssr.SSR)" in done.stderr


@pytest.mark.slow
def test_log_to_console_epochs_prints_one_line_per_epoch_and_nothing_else(zoo):
    edit(zoo, epochs=3, early_stop_patience=5, log_to_console="epochs")
    done = run(zoo, "run", "--expid", "SSR_test")
    assert done.returncode == 0, done.stderr[-2000:]
    lines = [line for line in done.stdout.splitlines() if line.startswith("    epoch ")]
    assert [line.split(":")[0] for line in lines] == ["    epoch 1", "    epoch 2", "    epoch 3"]
    assert all(re.fullmatch(r"    epoch \d: valid AUC: [0-9.]+ \(\d+ s\)", line) for line in lines), lines
    assert " INFO " not in done.stdout + done.stderr
    edit(zoo, log_to_console="yes")
    assert_named_error(run(zoo, "run", "--expid", "SSR_test"), "log_to_console: expected true, false or 'epochs'")
