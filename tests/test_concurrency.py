"""Runs side by side: ``--jobs`` on CPU, ``--gpus`` device slots, a Ray cluster; the same rows as one
run at a time, failures that do not stop the others, bad options named before any run."""
import hashlib
import os
import threading
import time

import pytest
import torch
import yaml

from fuxictr_ssr import bench, scheduler, tune
from fuxictr_ssr.bench import run_benchmark
from fuxictr_ssr.records import read_results
from helpers import generated_experiment, run_cli

SUITE = {"DNN_gen": {"model": "DNN", "hidden_units": [16]},
         "SSR_D_gen": {"model": "SSR", "filter_type": "ics", "num_views": [2], "view_dims": [8]}}
METRICS = ("valid_AUC", "valid_logloss", "test_AUC", "test_logloss", "best_epoch")


@pytest.fixture
def suite(tmp_path):
    from fuxictr_ssr.data import SyntheticSpec
    spec = SyntheticSpec(num_rows=2000, num_fields=6, num_informative=2, num_interactions=1, vocab_size=8, seed=3)
    return generated_experiment(tmp_path, SUITE, spec=spec, base={"epochs": 2})


def fake_result(expid, seed):
    auc = 0.5 + int(hashlib.md5(f"{expid}{seed}".encode()).hexdigest()[:4], 16) / 2 ** 17
    return {"expid": expid, "model": "DNN", "dataset_id": "gen", "seed": seed, "valid": {"AUC": auc, "logloss": 0.6},
            "test": {"AUC": auc, "logloss": 0.5}, "best_epoch": 1, "epochs_run": 1, "params_non_embedding": 1,
            "params_total": 2, "train_time_s": 1.0, "samples_per_s": 1.0, "fuxictr_version": "x",
            "torch_version": "y", "device": "cpu", "threads": 1}


def with_cuda(monkeypatch, devices):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: devices > 0)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: devices)


def test_gpu_slots_split_the_devices_by_nproc(monkeypatch):
    with_cuda(monkeypatch, 4)
    slots = scheduler.plan_slots(gpus=[0, 1, 2, 3], nproc=2)
    assert [(s.label, s.gpu, s.env) for s in slots] == [
        ("GPUs 0,1", 0, {"CUDA_VISIBLE_DEVICES": "0,1"}), ("GPUs 2,3", 0, {"CUDA_VISIBLE_DEVICES": "2,3"})]
    assert [s.env for s in scheduler.plan_slots(gpus=[3, 1])] == [{"CUDA_VISIBLE_DEVICES": "3"},
                                                                 {"CUDA_VISIBLE_DEVICES": "1"}]
    cpu = scheduler.plan_slots(jobs=2)
    assert len(cpu) == 2 and {s.threads for s in cpu} == {max(1, (os.cpu_count() or 1) // 2)} and cpu[0].gpu == -1


@pytest.mark.parametrize("kwargs, devices, message", [
    ({"jobs": 0}, 0, "--jobs: expected a positive integer, got 0"),
    ({"jobs": 2, "gpus": [0]}, 2, "--jobs: shares the CPU between runs; with --gpus"),
    ({"gpus": [0]}, 0, "--gpus: CUDA is not available here"),
    ({"gpus": [0, 3]}, 2, "--gpus: device 3 not found; the visible devices are 0, 1"),
    ({"gpus": [0], "nproc": 2}, 2, "--gpus: 1 devices cannot hold one run of --nproc 2 processes"),
    ({"gpus": [0], "gpu": 1}, 2, "--gpu 1 and --gpus"),
])
def test_bad_concurrency_options_are_named(kwargs, devices, message, monkeypatch):
    with_cuda(monkeypatch, devices)
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        scheduler.plan_slots(**kwargs)


def test_bad_options_stop_bench_and_tune_before_any_run(suite, tmp_path):
    for args, message in ((["--jobs", "0"], "--jobs: expected a positive integer"),
                          (["--gpus", "0,x"], "--gpus: expected comma-separated device indices")):
        done = run_cli(tmp_path, "bench", "--config", suite, "--out", "out", *args)
        assert done.returncode == 2 and message in done.stderr
    if not torch.cuda.is_available():
        done = run_cli(tmp_path, "bench", "--config", suite, "--out", "out", "--gpus", "0")
        assert done.returncode == 2 and "--gpus: CUDA is not available here" in done.stderr
    assert not (tmp_path / "out" / "results.csv").exists()


def test_runs_go_side_by_side_and_one_line_tells_each_finished_run(suite, tmp_path, monkeypatch):
    active, most = [0], [0]
    lock = threading.Lock()

    def slow_run(_, expid, seed, *args, **kwargs):
        with lock:
            active[0] += 1
            most[0] = max(most[0], active[0])
        time.sleep(0.3)
        with lock:
            active[0] -= 1
        return fake_result(expid, seed)

    monkeypatch.setattr(bench, "run_one", slow_run)
    lines = []
    run_benchmark(suite, [1, 2], str(tmp_path / "out"), jobs=2, log=lines.append)
    assert most[0] == 2
    finished = [line for line in lines if line.startswith("[")]
    assert [line.split("]")[0] for line in finished] == ["[1/4", "[2/4", "[3/4", "[4/4"]
    assert finished[0].endswith("; 3 left, about 1 min") and finished[-1].endswith("; 0 left")
    assert "2 at once (job 1, job 2)" in lines[0]
    rows = read_results(str(tmp_path / "out" / "results.csv"))
    assert sorted((r["expid"], r["seed"]) for r in rows) == [(e, s) for e in sorted(SUITE) for s in ("1", "2")]
    assert len(open(tmp_path / "out" / "config.csv").read().splitlines()) == 4  # FuxiCTR's lines, one per run


def test_a_failed_run_does_not_stop_the_others(suite, tmp_path, monkeypatch):
    def one_fails(_, expid, seed, *args, **kwargs):
        if (expid, seed) == ("DNN_gen", 1):
            raise ValueError("DNN_gen seed 1 failed (exit 1)")
        return fake_result(expid, seed)

    monkeypatch.setattr(bench, "run_one", one_fails)
    out = str(tmp_path / "out")
    with pytest.raises(ValueError, match=r"1 of 4 runs failed \(DNN_gen seed 1; .*rerun the same command"):
        run_benchmark(suite, [1, 2], out, jobs=2, log=lambda m: None)
    assert len(read_results(os.path.join(out, "results.csv"))) == 3
    assert "DNN_gen" in open(os.path.join(out, "leaderboard.md")).read()


@pytest.mark.slow
def test_two_jobs_give_the_rows_of_one_run_at_a_time(suite, tmp_path):
    sequential = run_benchmark(suite, [1], str(tmp_path / "one"), threads=1, log=lambda m: None)
    side_by_side = run_benchmark(suite, [1], str(tmp_path / "two"), jobs=2, threads=1, log=lambda m: None)
    assert sequential and side_by_side
    one, two = (sorted(read_results(str(tmp_path / d / "results.csv")), key=lambda r: (r["expid"], r["seed"]))
                for d in ("one", "two"))
    assert [(r["expid"], r["seed"]) for r in one] == [(r["expid"], r["seed"]) for r in two] and len(one) == 2
    for a, b in zip(one, two):
        assert {k: a[k] for k in METRICS} == {k: b[k] for k in METRICS}, a["expid"]


def test_a_concurrent_tpe_search_asks_what_a_sequential_one_asks(suite, tmp_path, monkeypatch):
    pytest.importorskip("optuna")
    monkeypatch.setattr(bench, "run_one", lambda _, expid, seed, *args, **kwargs: fake_result(expid, seed))
    tuner = tmp_path / "tuner.yaml"
    tuner.write_text(yaml.safe_dump({"base_config": suite, "base_expid": "DNN_gen", "dataset_id": "gen",
                                     "tuner_space": {"net_dropout": [0, 0.1, 0.2, 0.3],
                                                     "embedding_regularizer": [0, 1e-4, 1e-3, 1e-2],
                                                     "batch_size": [64, 128, 256]}}))
    searches = [tune.run_tune(str(tuner), out_dir=str(tmp_path / name), sampler="tpe", max_trials=14,
                              search_only=True, log=lambda m: None, jobs=jobs)
                for name, jobs in (("one", None), ("two", 2))]
    (one, chosen_one), (two, chosen_two) = searches
    assert [t["expid"] for t in one] == [t["expid"] for t in two] and len(one) == 14
    assert chosen_one["expid"] == chosen_two["expid"]


@pytest.mark.slow
def test_a_ray_cluster_gives_the_rows_of_one_run_at_a_time(suite, tmp_path):
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        lines = []
        run_benchmark(suite, [1], str(tmp_path / "ray"), threads=1, ray="local", log=lines.append)
    finally:
        ray.shutdown()
    run_benchmark(suite, [1], str(tmp_path / "one"), threads=1, log=lambda m: None)
    assert "2 at once (ray task 1, ray task 2)" in lines[0]
    one, two = (sorted(read_results(str(tmp_path / d / "results.csv")), key=lambda r: r["expid"])
                for d in ("one", "ray"))
    for a, b in zip(one, two):
        assert {k: a[k] for k in METRICS} == {k: b[k] for k in METRICS}, a["expid"]
    assert os.path.isfile(tmp_path / "ray" / "checkpoints" / "seed_1" / "gen" / "DNN_gen.model")


def test_an_unreachable_ray_address_is_named_before_any_run(suite, tmp_path):
    pytest.importorskip("ray")
    done = run_cli(tmp_path, "bench", "--config", suite, "--out", "out", "--ray", "127.0.0.1:1")
    assert done.returncode == 2 and "--ray: cannot reach a Ray cluster at '127.0.0.1:1'" in done.stderr
    assert not (tmp_path / "out" / "results.csv").exists()


@pytest.mark.slow
@pytest.mark.parametrize("side_by_side", [["--jobs", "2"], ["--ray", "local"]], ids=["jobs", "ray"])
def test_a_killed_driver_rerun_loses_and_repeats_nothing(side_by_side, tmp_path):
    import signal
    import subprocess
    import sys
    if side_by_side[0] == "--ray":
        pytest.importorskip("ray")
    from fuxictr_ssr.data import SyntheticSpec
    spec = SyntheticSpec(num_rows=4000, num_fields=6, num_informative=2, num_interactions=1, vocab_size=8, seed=3)
    suite = generated_experiment(tmp_path, SUITE, spec=spec, base={"epochs": 4})
    command = [sys.executable, "-m", "fuxictr_ssr", "bench", "--config", suite, "--seeds", "1,2,3", "--threads", "1",
               "--expids", "DNN_gen", "--out", "out", *side_by_side]
    results = tmp_path / "out" / "results.csv"
    driver = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while not (results.exists() and len(results.read_text().splitlines()) >= 2) and time.time() < deadline:
        time.sleep(0.2)
    driver.kill()
    driver.wait()
    time.sleep(3)
    kept = read_results(str(results))
    assert 1 <= len(kept) < 3
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    rows = read_results(str(results))
    assert sorted((r["expid"], r["seed"]) for r in rows) == [("DNN_gen", str(s)) for s in (1, 2, 3)]
    assert rows[:len(kept)] == kept  # the rows from before the kill, untouched
    assert len((tmp_path / "out" / "config.csv").read_text().splitlines()) == 3


def test_a_cluster_without_room_for_one_run_is_named():
    from fuxictr_ssr.ray_cluster import cluster_slots

    class Cluster:
        @staticmethod
        def nodes():
            return [{"Alive": True, "NodeManagerAddress": "10.0.0.2", "Resources": {"CPU": 8.0}},
                    {"Alive": False, "NodeManagerAddress": "10.0.0.3", "Resources": {"CPU": 8.0, "GPU": 4.0}}]

    with pytest.raises(ValueError, match=r"--ray: no node of the cluster has 2 GPU free for one run "
                                         r"\(10.0.0.2: 8 CPUs, 0 GPUs\)"):
        cluster_slots(Cluster, nproc=2, threads=1, use_gpus=True)
    assert len(cluster_slots(Cluster, nproc=1, threads=3, use_gpus=False)) == 2  # 8 CPUs hold two runs of 3
