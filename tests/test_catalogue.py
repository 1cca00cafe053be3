"""Bad inputs as a user meets them, through the real command line on the tiny committed data: each
stops with exit code 2 and a first line naming the key, file or option, before any training (or
gets the documented behaviour), and a crash never leaves a result that breaks the next run."""
import os
import signal
import subprocess
import sys
import time

import pytest
import yaml

CLI = [sys.executable, "-m", "fuxictr_ssr"]


@pytest.fixture
def zoo(zoo_copy):
    return zoo_copy / "model_zoo" / "SSR"


def edit(zoo, expid="SSR_test", **changes):
    path = zoo / "config" / "model_config.yaml"
    blocks = yaml.safe_load(path.read_text())
    blocks[expid].update(changes)
    path.write_text(yaml.safe_dump(blocks, sort_keys=False))


def run(zoo, *args, timeout=300):
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
    try:
        return [int(p) for p in open(f"/proc/{pid}/task/{pid}/children").read().split()]
    except OSError:
        return []


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parent-death signal is Linux's")
def test_killed_benchmark_takes_its_run_with_it(zoo):
    edit(zoo, epochs=200, early_stop_patience=200)
    bench = subprocess.Popen(CLI + ["bench", "--config", "config", "--expids", "SSR_test", "--out", "results"],
                             cwd=zoo, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while not _children(bench.pid) and time.time() < deadline:
        time.sleep(0.2)
    child = _children(bench.pid)[0]
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
