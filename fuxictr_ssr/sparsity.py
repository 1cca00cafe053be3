"""``fuxictr-ssr sparsity``: the implicit-sparsity report of a trained checkpoint (any registered
model): a table (CSV + markdown) over its dense layers, a PNG figure, and for SSR-D the ICS
surviving fractions on the validation split and the learned alphas."""
import csv
import os

import numpy as np
import torch

from .analysis.ics_activity import SurvivorMeter, alpha_summary, ics_layers
from .analysis.weight_sparsity import DEFAULT_THRESHOLDS, dense_weights, input_mass, model_weight_table
from .experiment import Experiment


def read_checkpoint(checkpoint):
    """The state dict saved at ``checkpoint``; ``ValueError`` for anything else."""
    if not os.path.isfile(checkpoint):
        raise ValueError(f"--checkpoint: {checkpoint!r} does not exist")
    try:
        state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    except Exception as error:  # pickle, zip and torch errors alike: the file is not a saved state dict
        raise ValueError(f"--checkpoint: {checkpoint!r} is not a model checkpoint saved by a run "
                         f"({type(error).__name__})") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"--checkpoint: {checkpoint!r} holds no state dict of tensors")
    return state


def check_checkpoint_fits(model, state, checkpoint, expid):
    """Name what differs between ``state`` and ``model`` (another experiment's checkpoint)."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    shapes = [f"{k} {tuple(state[k].shape)} vs {tuple(v.shape)}" for k, v in expected.items()
              if k in state and state[k].shape != v.shape]
    if missing or unexpected or shapes:
        found = "; ".join(f"{what} {items[:3]}" + (f" (+{len(items) - 3})" if len(items) > 3 else "")
                          for what, items in (("missing", missing), ("unexpected", unexpected),
                                              ("shapes (saved vs model)", shapes)) if items)
        raise ValueError(f"--checkpoint: {checkpoint!r} does not fit experiment {expid!r} "
                         f"({type(model).__name__}): {found}; was it saved by another experiment?")


def load_trained_model(config_dir, expid, checkpoint, data_root=None, gpu=-1):
    """Build ``expid``'s model over its preprocessed dataset and load ``checkpoint``; return the model
    and a function that makes its validation loader."""
    state = read_checkpoint(checkpoint)
    experiment = Experiment.load(config_dir, expid, overrides={"log_to_console": False}, data_root=data_root, gpu=gpu)
    feature_map, paths = experiment.data.prepare()
    model = experiment.model_class(feature_map, **experiment.params)
    check_checkpoint_fits(model, state, checkpoint, expid)
    model.load_weights(checkpoint)
    model.eval()
    return model, lambda: experiment.data.loaders(feature_map, paths, "train")[1]  # the validation loader


def ics_report(model, valid_loader):
    """Surviving fraction per SSR-D layer over the validation split, and the alphas."""
    layers = ics_layers(model)
    if not layers:
        return []
    valid_gen = valid_loader()
    with SurvivorMeter(layers) as meter:
        model.predict(valid_gen)
    fractions = meter.fractions()
    return [{"layer": depth, "surviving_fraction": fractions[depth], "alpha_per_iteration": alpha_summary(ics)}
            for depth, ics in layers]


def write_table(rows, csv_path, markdown_path, title):
    columns = list(rows[0])
    with open(csv_path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    lines = [f"# {title}", "", "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join(f"{v:.4f}" if isinstance(v, float) else str(v) for v in row.values()) + " |")
    with open(markdown_path, "w") as handle:
        handle.write("\n".join(lines) + "\n")


def plot_weights(model, png_path, title):
    """Left: histogram of |w| / max|w| per layer (log scale); right: cumulative squared-weight
    mass over input dimensions sorted by mass."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (hist_axis, mass_axis) = plt.subplots(1, 2, figsize=(11, 4.2))
    bins = np.logspace(-6, 0, 61)
    for name, weight in dense_weights(model):
        magnitude = weight.detach().abs().double().flatten().numpy()
        relative = np.clip(magnitude / magnitude.max(), 1e-6, 1.0)
        hist_axis.hist(relative, bins=bins, histtype="step", weights=np.full(len(relative), 1 / len(relative)),
                       label=name)
        mass = np.sort(input_mass(weight.detach()).numpy())[::-1]
        mass_axis.plot(np.arange(1, len(mass) + 1) / len(mass), np.cumsum(mass) / mass.sum(), label=name)
    hist_axis.set(xscale="log", xlabel="|w| / max |w| of the layer (log bins)", ylabel="share of the layer's weights",
                  title="weight magnitudes")
    mass_axis.axhline(0.8, color="grey", linestyle=":", linewidth=1)
    mass_axis.set(xlabel="fraction of input dimensions (sorted by mass)", ylabel="share of squared-weight mass",
                  title="input concentration")
    mass_axis.legend(fontsize=6, loc="lower right")
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(png_path, dpi=90)
    plt.close(figure)


def sparsity_report(config_dir, expid, checkpoint, out_dir, data_root=None, gpu=-1,
                    thresholds=DEFAULT_THRESHOLDS):
    """Write ``sparsity.csv``, ``sparsity.md``, ``sparsity.png`` (and ``ics.csv``/``ics.md`` for
    SSR-D) into ``out_dir``; return the table rows."""
    model, valid_loader = load_trained_model(config_dir, expid, checkpoint, data_root, gpu)
    os.makedirs(out_dir, exist_ok=True)
    rows = model_weight_table(model, thresholds)
    title = f"{expid}: dense-layer sparsity of {os.path.basename(checkpoint)}"
    write_table(rows, os.path.join(out_dir, "sparsity.csv"), os.path.join(out_dir, "sparsity.md"), title)
    plot_weights(model, os.path.join(out_dir, "sparsity.png"), title)
    ics_rows = ics_report(model, valid_loader)
    if ics_rows:
        write_table([{**r, "alpha_per_iteration": " ".join(map(str, r["alpha_per_iteration"]))} for r in ics_rows],
                    os.path.join(out_dir, "ics.csv"), os.path.join(out_dir, "ics.md"),
                    f"{expid}: ICS surviving fraction on the validation split")
    return rows, ics_rows
