"""How a built model executes, without changing what it computes: ``compile`` (``torch.compile``
of the dense tower, embeddings eager) and ``precision`` (bf16 autocast, loss and metrics in fp32).
Both are config keys of every model, off by default, recorded in the log and in result rows."""
import logging

import torch
from torch import nn

from fuxictr.pytorch.layers import FeatureEmbedding, FeatureEmbeddingDict

from ..layers import EmbeddingNorm

PRECISIONS = ("fp32", "bf16")


def execution_label(compile_tower, precision):
    """How a result row names the execution, e.g. ``compiled bf16`` or ``eager fp32``."""
    return f"{'compiled' if compile_tower else 'eager'} {precision}"


def check_precision_supported(precision, device):
    if precision == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise ValueError(f"precision: bf16 is not supported on {torch.cuda.get_device_name(device)}; use fp32")


def dense_tower(model):
    """The model's direct submodules that hold weights and no embedding table: what ``compile``
    compiles (each on its own). The embedding lookups (a python loop over features) and their
    normalisation stay eager. A warm-started BatchNorm inside the tower runs its first batches
    eagerly by itself (:class:`~fuxictr_ssr.layers.WarmStartBatchNorm1d`)."""
    embeddings = (FeatureEmbedding, FeatureEmbeddingDict, nn.Embedding, EmbeddingNorm)
    return [child for child in model.children()
            if any(True for _ in child.parameters())
            and not any(isinstance(module, embeddings) for module in child.modules())]


def compile_dense_tower(model):
    """Replace each dense-tower module's ``forward`` with its compiled form, in place: parameter
    and state-dict names stay the same, so checkpoints load with or without ``compile``.
    Compiled once per process; a shorter last batch gives one recompile with dynamic shapes."""
    for module in dense_tower(model):
        module.forward = torch.compile(module.forward)
    return [type(module).__name__ for module in dense_tower(model)]


def keep_output_layers_fp32(model):
    """Run every ``Linear(..., 1)`` (the logit layers) in fp32 under autocast: a bf16 logit has 8
    bits of mantissa, which would tie predictions and blur AUC and logloss."""
    for module in model.modules():
        if isinstance(module, nn.Linear) and module.out_features == 1:
            module.forward = _fp32_forward(module.forward)


def _fp32_forward(forward):
    def run(x):
        with torch.autocast(device_type=x.device.type, enabled=False):
            return forward(x.float())
    return run


def autocast_bf16(model):
    """Make ``model.forward`` run under bf16 autocast on the model's device (CPU or CUDA), the
    logit layers in fp32 (:func:`keep_output_layers_fp32`); outputs come back as fp32."""
    keep_output_layers_fp32(model)
    forward = model.forward

    def run(inputs):
        with torch.autocast(device_type=model.device.type, dtype=torch.bfloat16):
            outputs = forward(inputs)
        return {key: value.float() for key, value in outputs.items()}
    model.forward = run


def apply_execution(model, compile_tower=False, precision="fp32"):
    """Apply the execution options to a built model (on its device); log what was done."""
    check_precision_supported(precision, model.device)
    compiled = compile_dense_tower(model) if compile_tower else []
    if precision == "bf16":
        autocast_bf16(model)
    logging.info("Execution: %s%s", execution_label(compile_tower, precision),
                 f" (torch.compile of {', '.join(compiled)})" if compiled else "")
