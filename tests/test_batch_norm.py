"""BatchNorm running statistics: the warm-started embedding BatchNorm, and the check that compares
eval-mode with batch-mode validation at every evaluation.

The reproduction: SSR-D on generated data with few steps per epoch. fuxictr's embeddings start at
scale 1e-4, so torch's running variance, which starts at 1, dominates the estimate for about 100
batches; eval mode then normalises with a variance thousands of times too large."""
import os
import re
import shutil
import subprocess
import sys

import pytest
import torch
from torch import nn

from fuxictr_ssr.records import append_result, result_row
from fuxictr_ssr.data import SyntheticSpec
from fuxictr_ssr.layers import WarmStartBatchNorm1d
from fuxictr_ssr.registry import create_model
from fuxictr_ssr.runner import run_experiment
from helpers import categorical_feature_map, fuxictr_version, generated_experiment

CHECK_LINE = re.compile(r"BatchNorm check: validation AUC ([0-9.]+) with running statistics \(eval mode\), "
                        r"([0-9.]+) with each batch's own statistics")


def test_warm_start_running_statistics_average_the_batches_seen_then_move_by_momentum():
    torch.manual_seed(0)
    batches = [torch.randn(64, 3) * 1e-3 + i * 1e-4 for i in range(7)]
    warm, plain = WarmStartBatchNorm1d(3, momentum=0.25), nn.BatchNorm1d(3, momentum=0.25)
    plain.load_state_dict(warm.state_dict())  # same parameters, buffers and names
    for count, x in enumerate(batches, start=1):
        torch.testing.assert_close(warm(x), plain(x), rtol=0, atol=0)  # training output unchanged
        if count <= 4:  # 1 / momentum batches: the plain average
            expected_mean = torch.stack([b.mean(0) for b in batches[:count]]).mean(0)
            expected_var = torch.stack([b.var(0) for b in batches[:count]]).mean(0)
        else:
            expected_mean = 0.75 * expected_mean + 0.25 * x.mean(0)
            expected_var = 0.75 * expected_var + 0.25 * x.var(0)
        torch.testing.assert_close(warm.running_mean, expected_mean, rtol=1e-5, atol=1e-12)
        torch.testing.assert_close(warm.running_var, expected_var, rtol=1e-5, atol=1e-14)
    assert warm.momentum == 0.25 and int(warm.num_batches_tracked) == 7
    # torch's running variance still carries its prior of 1: 0.75^7 = 0.13, against 1e-6 measured
    assert (plain.running_var > 0.1).all() and (warm.running_var < 1e-5).all()


@pytest.mark.parametrize("params", [
    {"model": "DNN", "hidden_units": [8, 8], "batch_norm": True},
    {"model": "DeepFM", "hidden_units": [8], "batch_norm": True},
    {"model": "DCNv2", "parallel_dnn_hidden_units": [8], "batch_norm": True},
    {"model": "SSR", "num_views": [2, 2], "view_dims": [8, 8], "embedding_norm": "batch_norm"},
    {"model": "SSR", "num_views": [2, 2], "view_dims": [8, 8], "embedding_norm": "field_batch_norm"},
], ids=lambda p: f"{p['model']}-{p.get('embedding_norm', 'mlp')}")
def test_one_switch_warm_starts_every_batch_norm_of_every_model(params):
    feature_map = categorical_feature_map(num_fields=6, vocab_size=9)
    warm = create_model({**params, "embedding_dim": 4}, feature_map)
    stale = create_model({**params, "embedding_dim": 4, "batch_norm_warm_start": False}, feature_map)
    warm_norms = [m for m in warm.modules() if isinstance(m, nn.BatchNorm1d)]
    assert warm_norms and all(type(m) is WarmStartBatchNorm1d for m in warm_norms)
    assert all(type(m) is nn.BatchNorm1d for m in stale.modules() if isinstance(m, nn.BatchNorm1d))
    assert len(warm_norms) == len([m for m in stale.modules() if isinstance(m, nn.BatchNorm1d)])
    stale.load_state_dict(warm.state_dict())  # a checkpoint loads either way
    assert list(warm.state_dict()) == list(stale.state_dict())
    # the replaced layers are the ones the optimizer updates
    optimized = {id(p) for group in warm.optimizer.param_groups for p in group["params"]}
    assert all(id(m.weight) in optimized for m in warm_norms)


def test_batch_mode_pass_changes_no_state(tmp_path):
    feature_map = categorical_feature_map(num_fields=6, vocab_size=9)
    model = create_model({"model": "DNN", "embedding_dim": 4, "hidden_units": [8], "batch_norm": True,
                          "net_dropout": 0.3, "model_root": str(tmp_path)}, feature_map)
    batches = [{**{f: torch.randint(1, 9, (32,)) for f in feature_map.features},
                "label": torch.randint(0, 2, (32,)).float()} for _ in range(3)]
    batches.append({k: v[:1] for k, v in batches[0].items()})  # a one-row batch is skipped
    before = {k: v.clone() for k, v in model.state_dict().items()}
    rng = torch.get_rng_state()
    y_true, y_pred = model.batch_mode_predictions(batches)
    assert y_true.shape == y_pred.shape == (96,)
    assert torch.equal(rng, torch.get_rng_state())
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key]), key


# the DNN's lag is that of fuxictr 2.3.10's run of this data: 2.3.9 orders tied vocabulary counts
# another way, and its run of the same seed keeps the running statistics close in these 16 steps
DNN_CASE = pytest.param("DNN", marks=pytest.mark.skipif(fuxictr_version() != "2.3.10", reason="fuxictr 2.3.10's run"))


@pytest.fixture(scope="module")
def few_steps_runs(tmp_path_factory):
    """SSR-D and a DNN with hidden-layer BatchNorm, each twice on ~8 steps per epoch: warm-started
    and torch's running statistics."""
    tmp_path = tmp_path_factory.mktemp("bn")
    spec = SyntheticSpec(num_rows=10000, num_fields=12, num_informative=3, num_interactions=2, vocab_size=30, seed=5)
    experiments = {name: {"model": "SSR", "num_views": [4, 4], "view_dims": [16, 16],
                          "embedding_norm": "batch_norm", "batch_norm_warm_start": warm}
                   for name, warm in (("SSR_D_warm", True), ("SSR_D_stale", False))}
    experiments.update({name: {"model": "DNN", "hidden_units": [32, 32], "batch_norm": True,
                               "batch_norm_warm_start": warm}
                        for name, warm in (("DNN_warm", True), ("DNN_stale", False))})
    config_dir = generated_experiment(tmp_path, experiments, spec=spec,
                                      base={"batch_size": 1024, "epochs": 2, "log_to_console": False})
    runs = {}
    for expid in experiments:
        result = run_experiment(config_dir, expid, result_csv=str(tmp_path / "results.csv"))
        log = open(tmp_path / "checkpoints" / "gen" / f"{expid}.log").read()
        checks = [(float(a), float(b)) for a, b in CHECK_LINE.findall(log)]
        runs[expid] = result, log, checks
        # the layout fuxictr-ssr bench leaves, for the report script
        seed_dir = tmp_path / "bench" / "checkpoints" / "seed_2021" / "gen"
        seed_dir.mkdir(parents=True, exist_ok=True)
        shutil.copy(tmp_path / "checkpoints" / "gen" / f"{expid}.log", seed_dir)
        append_result(str(tmp_path / "bench" / "results.csv"), result_row(result, "fingerprint"))
    return tmp_path / "bench", runs


@pytest.mark.slow
@pytest.mark.parametrize("model", ["SSR_D", DNN_CASE])
def test_stale_running_statistics_are_reproduced_and_warned_about(few_steps_runs, model):
    _, log, checks = few_steps_runs[1][f"{model}_stale"]
    assert len(checks) == 2  # one check per validation (one per epoch)
    assert max(batch - running for running, batch in checks) > 0.02
    assert "WARNING BatchNorm check" in log and "below batch mode, more than bn_check_threshold 0.005 apart" in log


@pytest.mark.slow
@pytest.mark.parametrize("model", ["SSR_D", DNN_CASE])
def test_warm_started_batch_norm_scores_the_model_being_trained(few_steps_runs, model):
    """SSR-D's embedding BatchNorm and the DNN's hidden-layer ones alike."""
    warm_result, warm_log, warm_checks = few_steps_runs[1][f"{model}_warm"]
    stale_result, _, stale_checks = few_steps_runs[1][f"{model}_stale"]
    assert len(warm_checks) == 2
    gaps = [(batch - running, stale_batch - stale_running)
            for (running, batch), (stale_running, stale_batch) in zip(warm_checks, stale_checks)]
    if model == "SSR_D":  # embeddings start near zero: the prior was the whole gap
        assert all(abs(warm) < 0.005 for warm, _ in gaps)
        assert "WARNING BatchNorm check" not in warm_log
    else:  # hidden activations move fast in 8 steps; the average of the batches seen still lags them
        assert all(abs(warm) <= 0.5 * stale for warm, stale in gaps)
    # the same training in both runs (batch statistics do not depend on the running ones) ...
    for (_, warm_batch), (_, stale_batch) in zip(warm_checks, stale_checks):
        assert warm_batch == pytest.approx(stale_batch, abs=1e-6)
    # ... but the warm-started model is scored much closer to what was trained
    assert warm_result["test"]["AUC"] > stale_result["test"]["AUC"] + 0.02


@pytest.mark.slow
def test_report_script_tabulates_the_checks_of_every_run(few_steps_runs):
    bench_dir, runs = few_steps_runs
    script = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks",
                          "batch_norm_check.py")
    out = bench_dir / "report.md"
    subprocess.run([sys.executable, script, "--results", str(bench_dir), "--out", str(out)], check=True,
                   capture_output=True, text=True, timeout=120)
    report = out.read_text()
    for expid, (result, _, checks) in runs.items():
        for k, (running, batch) in enumerate(checks, start=1):
            assert f"| {expid} | {k} | 1 | {running:.6f} | {batch:.6f} | {batch - running:+.6f} |" in report
        assert f"| {expid} | 2021 | {result['best_epoch']} | {result['epochs_run']} |" in report
    # a run without a results row (still training) is left out
    unfinished = bench_dir / "checkpoints" / "seed_7" / "gen"
    unfinished.mkdir(parents=True)
    shutil.copy(bench_dir / "checkpoints" / "seed_2021" / "gen" / "SSR_D_warm.log", unfinished)
    again = subprocess.run([sys.executable, script, "--results", str(bench_dir)], check=True, capture_output=True,
                           text=True, timeout=120).stdout
    assert "| SSR_D_warm | 1 | 1 |" in again


@pytest.mark.parametrize("embedding_norm", ["batch_norm", "field_batch_norm"])
def test_the_embedding_normalisation_is_applied_in_the_forward_pass(embedding_norm):
    """The model's logit equals a reference composed from its own submodules, embedding
    normalisation included (train mode: batch statistics, far from the identity at fuxictr's
    1e-4 embedding scale)."""
    torch.manual_seed(0)
    feature_map = categorical_feature_map()
    model = create_model({"model": "SSR", "embedding_dim": 4, "embedding_norm": embedding_norm,
                          "num_views": [2, 2], "view_dims": [8, 8], "ics_iterations": 2}, feature_map)
    batch = {name: torch.randint(1, 22, (64,)) for name in feature_map.features}
    batch["label"] = torch.randint(0, 2, (64,)).float()
    model.train()
    emb = model.embedding_layer(model.get_inputs(batch))
    flat = model.embedding_norm(emb).flatten(start_dim=1)
    expected = torch.sigmoid(model.head(model.ssr_layers(flat)))
    skipped = torch.sigmoid(model.head(model.ssr_layers(emb.flatten(start_dim=1))))
    assert not torch.allclose(expected, skipped, atol=1e-4)  # the check can tell the two apart
    assert torch.allclose(model(batch)["y_pred"], expected, atol=1e-6)


def test_warm_start_rows_script_pairs_the_rows_from_before_and_after_the_switch_by_their_hash(tmp_path):
    from fuxictr_ssr.experiment import config_fingerprint, resolve
    from helpers import write_config
    config_dir = write_config(str(tmp_path / "config"), {"x": {"data_root": str(tmp_path)}},
                              {e: {"model": "DNN", "dataset_id": "x", "batch_norm": True} for e in ("DNN_x", "DNN_y")})
    params = resolve(config_dir, "DNN_x")
    before, after = config_fingerprint({**params, "batch_norm_warm_start": False}), config_fingerprint(params)
    values = {before: [(0.80, 0.45), (0.81, 0.44), (0.82, 0.43)], after: [(0.80, 0.45), (0.815, 0.43), (0.83, 0.42)],
              "an older config": [(0.5, 0.9)] * 3}
    for fingerprint, pairs in values.items():
        for seed, (auc, logloss) in enumerate(pairs, start=1):
            append_result(str(tmp_path / "results.csv"), {
                **result_row({"expid": "DNN_x", "model": "DNN", "seed": seed, "valid": {"AUC": auc, "logloss": logloss},
                              "test": {"AUC": auc, "logloss": logloss}, "best_epoch": seed, "epochs_run": 5,
                              "params_non_embedding": 1, "params_total": 2, "train_time_s": 1, "samples_per_s": 1,
                              "fuxictr_version": "x", "torch_version": "y", "device": "cpu", "threads": 1}, fingerprint)})
    script = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks", "warm_start_rows.py")
    report = subprocess.run([sys.executable, script, "--config", config_dir, "--results", str(tmp_path), "--expids",
                             "DNN_x", "DNN_y"], check=True, capture_output=True, text=True, timeout=120).stdout
    from scipy import stats
    p_auc = stats.ttest_ind([0.80, 0.81, 0.82], [0.80, 0.815, 0.83], equal_var=False).pvalue
    assert f"| DNN_x | 3 | test AUC | 0.810000 | 0.815000 | +0.005000 | 0.010000 | {p_auc:.3g} | 1/3 |" in report
    assert "| DNN_x | 3 | test logloss | 0.440000 | 0.433333 | -0.006667 | 0.010000 |" in report
    assert "| DNN_x | 3 | best epoch | 2.0 | 2.0 |" in report and "| DNN_y | 0 |" in report  # no rows


@pytest.mark.slow
def test_a_compiled_tower_with_warm_started_batch_norm_compiles_once_warm_and_matches_eager():
    """The warm-up's momentum changes every batch; run eagerly, it costs no recompile per batch
    (which would hit dynamo's recompile limit and leave the tower uncompiled)."""
    import torch._dynamo
    from torch._dynamo.utils import counters
    torch.manual_seed(0)
    compiled = nn.Sequential(nn.Linear(8, 16), WarmStartBatchNorm1d(16), nn.ReLU(), nn.Linear(16, 1))
    eager = nn.Sequential(nn.Linear(8, 16), WarmStartBatchNorm1d(16), nn.ReLU(), nn.Linear(16, 1))
    eager.load_state_dict(compiled.state_dict())
    torch._dynamo.reset()
    counters.clear()
    forward = torch.compile(compiled.forward)
    for _ in range(25):  # 10 warm-up batches, then the usual momentum
        x = torch.randn(64, 8)
        torch.testing.assert_close(forward(x), eager(x), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(compiled[1].running_var, eager[1].running_var)
    assert not any("recompile" in reason.lower() for reason in counters["unimplemented"])
    explained = torch._dynamo.explain(compiled)(torch.randn(64, 8))
    assert explained.graph_count == 1 and explained.graph_break_count == 0
