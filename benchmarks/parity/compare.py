"""Print how far our SSR presets are from the authors' recorded models (the figures the README's
"Fidelity" section quotes): largest logit error and worst relative weight-gradient error per
variant, with our side in float32 (as the test) and in float64 (what remains is their rounding).

    python benchmarks/parity/compare.py

It loads the fixture exactly as ``tests/test_parity.py`` does (that module's loader is reused).
"""
import os
import sys

import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests"))
from test_parity import FIXTURE, VARIANTS, loaded_model, theirs  # noqa: E402


def errors(variant, dtype):
    model, pairs = loaded_model(variant)
    model.to(dtype)
    embeddings = torch.from_numpy(FIXTURE[f"{variant}/inputs"]).to(dtype).requires_grad_()
    logits = model.logit_from_embeddings(embeddings)
    labels = torch.from_numpy(FIXTURE[f"{variant}/labels"]).to(dtype)
    nn.functional.binary_cross_entropy_with_logits(logits, labels).backward()
    logit_error = np.abs(logits.detach().double().numpy() - FIXTURE[f"{variant}/logits"]).max()
    relative = []
    for key, param, index, transpose in pairs:
        reference = theirs(variant, "grad", key, transpose).to(dtype).reshape(param.grad[index].shape)
        relative.append((((param.grad[index] - reference).norm() / reference.norm()).item(), key))
    worst = max(relative)
    return logit_error, worst


def main():
    print("| variant | ours in | max logit error | worst relative weight-gradient error (weight) |")
    print("|---|---|---|---|")
    for variant in sorted(VARIANTS):
        for dtype in (torch.float32, torch.float64):
            logit_error, (gradient_error, key) = errors(variant, dtype)
            print(f"| {variant} | {str(dtype).split('.')[1]} | {logit_error:.2e} | {gradient_error:.2e} ({key}) |")


if __name__ == "__main__":
    main()
