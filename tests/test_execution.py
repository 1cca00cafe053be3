"""Execution options (:mod:`fuxictr_ssr.models.execution`, SSR's ``ssr_layout``): they change how a
model runs, not what it computes, which parameters it has or how its checkpoint reads."""
import glob
import logging
import os

import pytest
import torch

from fuxictr_ssr.bench import run_benchmark
from fuxictr_ssr.config import load_params
from fuxictr_ssr.data import SyntheticSpec
from fuxictr_ssr.registry import create_model
from helpers import categorical_feature_map, generated_experiment, needs_feature_major

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SSR_ZOO = os.path.join(REPO_ROOT, "model_zoo", "SSR", "config")
FEATURE_MAP = categorical_feature_map(num_fields=12, vocab_size=22)


def build(expid, tmp_path, **changes):
    params = {**load_params(SSR_ZOO, expid), "model_root": str(tmp_path), **changes}
    torch.manual_seed(0)
    return create_model(params, FEATURE_MAP)


def batch(size=64):
    generator = torch.Generator().manual_seed(1)
    inputs = {f: torch.randint(1, 22, (size,), generator=generator) for f in FEATURE_MAP.features}
    inputs["label"] = torch.randint(0, 2, (size,), generator=generator).float()
    return inputs


def randomise(model):
    """FuxiCTR's N(0, 1e-4) embeddings make every fresh logit ~0; spread the weights so that a
    difference in the computation shows in the outputs."""
    generator = torch.Generator().manual_seed(2)
    with torch.no_grad():
        for param in model.parameters():
            if param.dim() >= 2:
                param.add_(0.3 * torch.randn(param.shape, generator=generator))
    return model


def logits_and_grads(model, inputs):
    model.zero_grad()
    outputs = model(inputs)
    model.compute_loss(outputs, model.get_labels(inputs)).backward()
    return outputs["logit"].detach(), {name: p.grad.clone() for name, p in model.named_parameters()}


def assert_same_function(model, reference, inputs, rtol=1e-5):
    logit, grads = logits_and_grads(model, inputs)
    logit_ref, grads_ref = logits_and_grads(reference, inputs)
    assert logit.dtype == torch.float32
    torch.testing.assert_close(logit, logit_ref, rtol=rtol, atol=rtol * logit_ref.abs().max().item())
    assert grads.keys() == grads_ref.keys()
    for name, grad in grads.items():
        scale = grads_ref[name].abs().max().item()
        torch.testing.assert_close(grad, grads_ref[name], rtol=rtol, atol=rtol * scale + 1e-12, msg=name)


@needs_feature_major
@pytest.mark.parametrize("expid", ["SSR_test", "SSR_S_test"])
def test_the_feature_major_ssr_is_the_same_model(expid, tmp_path):
    reference = randomise(build(expid, tmp_path))
    model = build(expid, tmp_path, ssr_layout="feature_major")
    assert list(model.state_dict()) == list(reference.state_dict())
    model.load_state_dict(reference.state_dict())
    assert_same_function(model.train(), reference.train(), batch())
    assert_same_function(model.eval(), reference.eval(), batch())


@pytest.mark.slow
@needs_feature_major
def test_a_compiled_model_keeps_its_names_outputs_and_checkpoints(tmp_path, caplog):
    reference = randomise(build("SSR_test", tmp_path))
    with caplog.at_level(logging.INFO):
        model = build("SSR_test", tmp_path, compile=True, ssr_layout="feature_major")
    assert "Execution: compiled fp32 (torch.compile of " in caplog.text
    assert list(model.state_dict()) == list(reference.state_dict())
    # an eager checkpoint loads into the compiled model, and the compiled model's into an eager one
    model.load_state_dict(reference.state_dict())
    assert_same_function(model.train(), reference.train(), batch())
    torch.save(model.state_dict(), tmp_path / "compiled.model")
    eager = build("SSR_test", tmp_path)
    eager.load_state_dict(torch.load(tmp_path / "compiled.model"))
    assert_same_function(eager.eval(), model.eval(), batch())


@pytest.mark.slow
@pytest.mark.parametrize("expid", ["SSR_test", "SSR_S_test"])
def test_bf16_runs_the_tower_in_bf16_and_returns_fp32(expid, tmp_path):
    reference = randomise(build(expid, tmp_path)).eval()
    model = build(expid, tmp_path, precision="bf16").eval()
    model.load_state_dict(reference.state_dict())
    logit, grads = logits_and_grads(model, batch())
    logit_ref, _ = logits_and_grads(reference, batch())
    assert logit.dtype == torch.float32 and all(g.dtype == torch.float32 for g in grads.values())
    gap = (logit - logit_ref).abs().max().item()
    # bf16 keeps 8 bits of mantissa: close to fp32, and not equal to it (the autocast is on)
    assert 0 < gap < 0.05 * logit_ref.abs().max().item()


@pytest.mark.slow
def test_the_result_row_and_log_say_how_the_run_executed(tmp_path):
    spec = SyntheticSpec(num_rows=1500, num_fields=6, num_informative=2, num_interactions=1, vocab_size=8, seed=3)
    suite = generated_experiment(tmp_path, {"DNN_fast": {"model": "DNN", "hidden_units": [16], "compile": True,
                                                         "precision": "bf16"}},
                                 spec=spec, base={"epochs": 1})
    rows = run_benchmark(suite, [1], str(tmp_path / "results"), log=lambda message: None)
    assert [row["execution"] for row in rows] == ["compiled bf16"]
    assert 0.0 < float(rows[0]["test_AUC"]) < 1.0
    logs = glob.glob(str(tmp_path / "**" / "DNN_fast.log"), recursive=True)
    assert len(logs) == 1
    assert "Execution: compiled bf16 (torch.compile of MLP_Block)" in open(logs[0]).read()
