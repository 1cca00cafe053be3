"""``fuxictr-ssr sparsity``: the implicit-sparsity report of a trained checkpoint (any registered
model): a table (CSV + markdown) over its dense layers, a PNG figure, and for SSR-D the ICS
surviving fractions on the validation split and the learned alphas."""
import csv
import os

import numpy as np

from .analysis.ics_activity import SurvivorMeter, alpha_summary, ics_layers
from .analysis.weight_sparsity import DEFAULT_THRESHOLDS, dense_weights, input_mass, model_weight_table
from .trained import load_trained


def load_trained_model(config_dir, expid, checkpoint, data_root=None, gpu=-1):
    """Build ``expid``'s model over its built dataset and load ``checkpoint``; return the model
    and a function that makes its validation loader."""
    trained = load_trained(config_dir, expid, checkpoint, data_root, gpu)
    plan = trained.experiment.data

    def valid_loader():
        feature_map, paths = plan.prepare()
        return plan.loaders(feature_map, paths, "train")[1]

    return trained.model, valid_loader


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
