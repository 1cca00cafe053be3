"""Data-parallel training on CPU with gloo: torchrun end to end, one DDP step against one
single-process step, and a failing rank."""
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from fuxictr_ssr import distributed
from fuxictr_ssr.data import ColumnarDataLoader
from fuxictr_ssr.registry import create_model, list_models
from fuxictr_ssr.experiment import Experiment
from helpers import categorical_feature_map

TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]


def torchrun(args, cwd):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run(TORCHRUN + args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture
def dnn_zoo(tmp_path):
    """model_zoo/DNN and the tiny dataset, with an experiment that trains three epochs."""
    from conftest import REPO_ROOT
    zoo = tmp_path / "model_zoo" / "DNN"
    shutil.copytree(os.path.join(REPO_ROOT, "model_zoo", "DNN"), zoo,
                    ignore=shutil.ignore_patterns("checkpoints", "*.csv"))
    (tmp_path / "data" / "tiny_synthetic").mkdir(parents=True)
    for name in ("train.csv", "valid.csv", "test.csv"):
        shutil.copy(os.path.join(REPO_ROOT, "data", "tiny_synthetic", name), tmp_path / "data" / "tiny_synthetic")
    with open(zoo / "config" / "model_config.yaml", "a") as handle:
        handle.write("\nDNN_ddp:\n    model: DNN\n    dataset_id: tiny_synthetic\n    hidden_units: [32, 32]\n"
                     "    batch_size: 128\n    epochs: 3\n    early_stop_patience: 5\n    verbose: 0\n")
    return zoo


@pytest.mark.slow
def test_two_processes_train_once_and_report_the_checkpoints_metrics(dnn_zoo, monkeypatch):
    done = torchrun(["run_expid.py", "--expid", "DNN_ddp", "--gpu", "-1"], cwd=dnn_zoo)
    assert done.returncode == 0, done.stderr[-3000:]
    log = open(dnn_zoo / "checkpoints" / "tiny_synthetic" / "DNN_ddp.log").read()
    assert "Data parallel: 2 processes, 64 rows per process and step" in log
    losses = [float(line.rsplit(" ", 1)[-1]) for line in log.splitlines() if "Train loss:" in line]
    assert len(losses) == 3 and losses[-1] < losses[0]
    lines = open(dnn_zoo / "config.csv").read().splitlines()
    assert len(lines) == 1 and "[exp_id] DNN_ddp" in lines[0]
    # one checkpoint, one log, one set of curves (process 0 writes them)
    assert sorted(os.listdir(dnn_zoo / "checkpoints" / "tiny_synthetic")) == ["DNN_ddp.curves.jsonl", "DNN_ddp.log",
                                                                             "DNN_ddp.model"]
    assert len(open(dnn_zoo / "checkpoints" / "tiny_synthetic" / "DNN_ddp.curves.jsonl").readlines()) == 3
    reported = {k: float(v) for k, v in (part.split(": ") for part in
                                         lines[0].split("[test] ")[1].split(" - "))}

    # the saved checkpoint, evaluated in this one process, gives what the two processes reported
    monkeypatch.chdir(dnn_zoo)
    experiment = Experiment.load("config", "DNN_ddp")
    params, model_class = experiment.params, experiment.model_class
    feature_map, paths = experiment.data.prepare()
    model = model_class(feature_map, **params)
    model.load_weights(model.checkpoint)
    single = model.evaluate(experiment.data.loaders(feature_map, paths, "test"))
    assert single["AUC"] == pytest.approx(reported["AUC"], abs=1e-6)
    assert single["logloss"] == pytest.approx(reported["logloss"], abs=1e-6)


def _one_step(rank, world, init_file, batch, out_file, model_name="DNN"):
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    model = _dnn() if model_name == "DNN" else _small(model_name)
    distributed.make_data_parallel(model)
    half = len(batch["label"]) // world
    for _ in range(2):  # DDP finds a parameter left without gradient only at the next step
        model.train_step({k: v[rank * half:(rank + 1) * half] for k, v in batch.items()})
    if rank == 0:
        torch.save(model.state_dict(), out_file)
    dist.destroy_process_group()


def _dnn():
    torch.manual_seed(0)
    params = {"model": "DNN", "embedding_dim": 4, "hidden_units": [16, 16], "net_dropout": 0, "batch_norm": False,
              "learning_rate": 0.01}
    model = create_model(params, categorical_feature_map(num_fields=6, vocab_size=9))
    model._max_gradient_norm = 10.0  # what BaseModel.fit sets up
    return model


SMALL = {"SSR": {"num_views": [2, 2], "view_dims": [4, 4]}, "DCNv2": {"parallel_dnn_hidden_units": [8]},
         "DeepFM": {"hidden_units": [8]}, "RankMixer": {"num_tokens": 3, "token_dim": 6, "ffn_expansion": 2},
         "WuKong": {"num_layers": 2, "fmb_units": 3, "lcb_units": 3, "fmb_rank": 2, "fmb_mlp_units": [8],
                    "head_hidden_units": [8]}}


def _small(model_name):
    params = {"model": model_name, "embedding_dim": 4, **SMALL[model_name]}
    model = create_model(params, categorical_feature_map(num_fields=6, vocab_size=9))
    model._max_gradient_norm = 10.0
    return model


@pytest.mark.slow
@pytest.mark.parametrize("model_name", list_models())
def test_every_registered_model_trains_under_ddp(tmp_path, model_name):
    """DDP needs every parameter to get a gradient each step (else it raises on the next one)."""
    generator = torch.Generator().manual_seed(3)
    batch = {f"f{i:02d}": torch.randint(1, 9, (32,), generator=generator) for i in range(1, 7)}
    batch["label"] = torch.randint(0, 2, (32,), generator=generator).float()
    mp.spawn(_one_step, args=(2, str(tmp_path / "init"), batch, str(tmp_path / "out.pt"), model_name), nprocs=2)
    assert os.path.getsize(tmp_path / "out.pt") > 0


@pytest.mark.slow
def test_ddp_steps_on_two_ranks_equal_steps_on_the_combined_batch(tmp_path):
    generator = torch.Generator().manual_seed(3)
    batch = {f"f{i:02d}": torch.randint(1, 9, (64,), generator=generator) for i in range(1, 7)}
    batch["label"] = torch.randint(0, 2, (64,), generator=generator).float()
    mp.spawn(_one_step, args=(2, str(tmp_path / "init"), batch, str(tmp_path / "ddp.pt")), nprocs=2)
    single = _dnn()
    before = {k: v.clone() for k, v in single.state_dict().items()}
    for _ in range(2):
        single.train_step(batch)
    ddp = torch.load(tmp_path / "ddp.pt")
    moved = 0
    for name, value in single.state_dict().items():
        torch.testing.assert_close(ddp[name], value, rtol=1e-5, atol=1e-6)
        moved += int(not torch.equal(value, before[name]))
    assert moved > 0  # the step changed the weights


@pytest.mark.slow
def test_a_failing_rank_ends_the_job_with_its_error(dnn_zoo):
    (dnn_zoo / "src").mkdir()
    (dnn_zoo / "src" / "__init__.py").write_text("from .RankOneFails import RankOneFails\n")
    (dnn_zoo / "src" / "RankOneFails.py").write_text(
        "import torch.distributed as dist\n"
        "from fuxictr_ssr.models import DNN\n\n\n"
        "class RankOneFails(DNN):\n"
        "    def forward(self, inputs):\n"
        "        if dist.get_rank() == 1:\n"
        "            raise RuntimeError('rank 1 gave up on purpose')\n"
        "        return super().forward(inputs)\n")
    with open(dnn_zoo / "config" / "model_config.yaml", "a") as handle:
        handle.write("\nDNN_fails:\n    model: RankOneFails\n    dataset_id: tiny_synthetic\n"
                     "    hidden_units: [8]\n    batch_size: 128\n    epochs: 2\n    verbose: 0\n"
                     "    distributed_timeout: 60\n")
    done = torchrun(["run_expid.py", "--expid", "DNN_fails", "--gpu", "-1"], cwd=dnn_zoo)
    assert done.returncode != 0
    assert "rank 1 gave up on purpose" in done.stdout + done.stderr


def test_loader_shares_are_disjoint_and_evaluation_covers_every_row_once(tmp_path):
    feature_map = categorical_feature_map(num_fields=2, vocab_size=50)
    rows = 1001
    path = tmp_path / "split.npz"
    np.savez(path, f01=np.arange(rows) % 50, f02=np.arange(rows) // 50, label=(np.arange(rows) % 2).astype(np.float32))
    def ids(batch):
        return (batch["f02"] * 50 + batch["f01"]).tolist()
    train = [[i for b in ColumnarDataLoader(feature_map, str(path), batch_size=64, shuffle=True, seed=4,
                                            rank=r, world_size=2) for i in ids(b)] for r in (0, 1)]
    assert len(train[0]) == len(train[1]) == 500 and not set(train[0]) & set(train[1])
    single = [i for b in ColumnarDataLoader(feature_map, str(path), batch_size=128, shuffle=True, seed=4)
              for i in ids(b)]
    # step k of the two ranks together holds the rows of the single-process batch k
    assert sorted(train[0][:64] + train[1][:64]) == sorted(single[:128])
    valid = [i for r in (0, 1) for b in ColumnarDataLoader(feature_map, str(path), split="valid", batch_size=64,
                                                           rank=r, world_size=2) for i in ids(b)]
    assert valid == list(range(rows))


def test_batch_size_must_divide_over_processes():
    assert distributed.per_rank_batch_size(4096, 4) == 1024
    with pytest.raises(ValueError, match="batch_size: the global batch 100 must divide evenly over 3 processes"):
        distributed.per_rank_batch_size(100, 3)


@pytest.mark.slow
def test_bench_runs_each_experiment_in_two_processes(tmp_path):
    from fuxictr_ssr.bench import run_benchmark
    from fuxictr_ssr.records import read_results
    from helpers import generated_experiment
    config = generated_experiment(tmp_path, {"DNN_gen": {"model": "DNN", "hidden_units": [8]}},
                                  base={"epochs": 1, "batch_size": 128})
    rows = run_benchmark(config, [5], str(tmp_path / "out"), nproc=2, log=lambda message: None)
    assert [(r["expid"], r["device"]) for r in rows] == [("DNN_gen", "cpu x2")]
    assert len(read_results(str(tmp_path / "out" / "results.csv"))) == 1


def _test_metrics(result_line):
    return {k: float(v) for k, v in (part.split(": ") for part in result_line.split("[test] ")[1].split(" - "))}


@pytest.mark.slow
def test_two_processes_reproduce_the_one_process_metrics_without_batch_norm(dnn_zoo):
    """The README's claim: on CPU, a BatchNorm-free config trained in 2 processes (half of every
    global batch each) gives the 1-process metrics up to float rounding."""
    single = subprocess.run([sys.executable, "run_expid.py", "--expid", "DNN_ddp", "--gpu", "-1"], cwd=dnn_zoo,
                            capture_output=True, text=True, timeout=300)
    assert single.returncode == 0, single.stderr[-3000:]
    double = torchrun(["run_expid.py", "--expid", "DNN_ddp", "--gpu", "-1"], cwd=dnn_zoo)
    assert double.returncode == 0, double.stderr[-3000:]
    one, two = (_test_metrics(line) for line in open(dnn_zoo / "config.csv").read().splitlines())
    assert two["AUC"] == pytest.approx(one["AUC"], abs=1e-5)
    assert two["logloss"] == pytest.approx(one["logloss"], abs=1e-5)
