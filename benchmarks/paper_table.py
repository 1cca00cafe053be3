"""The SSR paper's ablations (Table 4) and ICS sensitivity (Table 5) beside ours.

Reads the results of ``fuxictr-ssr bench --config paper_experiments/<dataset> ...`` and prints one
markdown row per experiment: the paper's number (Avazu, its protocol), our mean test AUC over the
seeds run, the change against full SSR-D with a two-sided Welch t-test over seeds, the share of
zeros after ICS per layer (validation split, best checkpoint; rows from before the runner recorded
it show "-") and whether ours agrees with the paper in sign.

    python benchmarks/paper_table.py results/paper_experiments/Frappe_x1/results.csv

Several results files may be given: a run (expid, seed) found in more than one is one run, its
AUC from the first file that has it and its zeros from the first that recorded them (a rerun made
only to record the zeros); a rerun whose test AUC differs from the first by more than 1e-6 is
listed under the table.
"""
import argparse
import csv
import sys

import numpy as np
from scipy import stats

# The paper's numbers (arXiv 2604.08011; Table 4: AUC change x 1e-2 against full SSR-D on Avazu;
# Table 5: share of zeros after ICS and AUC on Avazu). Full SSR-D: AUC 0.7835, 91.0% zeros.
FULL_AUC = 0.7835
PAPER = {  # experiment stem -> (label, paper AUC change, paper share of zeros or None)
    "full": ("full SSR-D (SSR_D_paper: T=5, alpha0 0.1)", 0.0, 0.910),
    "no_filter": ("Table 4: no sparse filter", -0.0050, None),
    "one_view": ("Table 4: one view (b=1)", -0.0022, None),
    "static": ("Table 4: static filter instead of ICS", -0.0012, None),
    "topk": ("Table 4: straight-through top-k instead of ICS", -0.0018, None),
    "dropout": ("Table 4: dropout instead of the filter", -0.0032, None),
    "T1": ("Table 5: T=1", 0.7821 - FULL_AUC, 0.764),
    "T2": ("Table 5: T=2", 0.7826 - FULL_AUC, 0.886),
    "alpha0.01": ("Table 5: alpha0 0.01", 0.7832 - FULL_AUC, 0.804),
    "alpha0.3": ("Table 5: alpha0 0.3", 0.7833 - FULL_AUC, 0.933),
    "alpha0.5": ("Table 5: alpha0 0.5", 0.7828 - FULL_AUC, 0.940),
    "no_gamma": ("Table 5: without gamma", 0.7832 - FULL_AUC, 0.945),
}
SIGNIFICANCE = 0.05


def stem(expid):
    """``SSR_D_alpha0.3_frappe_x1`` -> ``alpha0.3``: the experiment's name within its folder."""
    for name in sorted(PAPER, key=len, reverse=True):
        if expid.startswith(f"SSR_D_{name}_"):
            return name
    return None


def read_rows(paths):
    """``({stem: [run, ...]}, notes)`` over the results files; see the module docstring."""
    runs, notes = {}, []
    for path in paths:
        with open(path, newline="") as handle:
            for row in csv.DictReader(handle):
                if stem(row["expid"]) is None:
                    continue
                key = row["expid"], row["seed"]
                if key not in runs:
                    runs[key] = dict(row)
                    continue
                first = runs[key]
                if abs(float(first["test_AUC"]) - float(row["test_AUC"])) > 1e-6:
                    notes.append(f"{key[0]} seed {key[1]}: test AUC {float(first['test_AUC']):.6f}, "
                                 f"rerun in {path}: {float(row['test_AUC']):.6f}")
                if not first.get("ics_zeros") and row.get("ics_zeros"):
                    first["ics_zeros"] = row["ics_zeros"]
    by_stem = {}
    for (expid, _), row in runs.items():
        by_stem.setdefault(stem(expid), []).append(row)
    return by_stem, notes


def zeros_text(runs):
    """Mean share of zeros per layer over the runs that recorded it, e.g. ``74% / 91% (3 seeds)``."""
    recorded = [[float(v) for v in r["ics_zeros"].split("/")] for r in runs if r.get("ics_zeros")]
    if not recorded:
        return "-"
    means = np.mean(np.array(recorded), axis=0)
    return " / ".join(f"{100 * m:.0f}%" for m in means) + f" ({len(recorded)} seeds)"


def p_text(p_value):
    return "p<0.01" if p_value < 0.01 else f"p={p_value:.2f}"


def verdict(paper_change, ours_change, p_value):
    if paper_change == 0:
        return "-"
    same = np.sign(paper_change) == np.sign(ours_change)
    text = "same sign" if same else "opposite sign"
    if p_value is None:
        text += ", one seed: untested"
    elif p_value >= SIGNIFICANCE:
        text += ", within seed noise"
    return text


def table(by_stem):
    if "full" not in by_stem:
        raise SystemExit("error: no full SSR-D rows (SSR_D_full_*) in the results: nothing to compare against")
    full = np.array([float(r["test_AUC"]) for r in by_stem["full"]])
    lines = ["| experiment | paper: AUC change (zeros) | ours: test AUC, seeds | change (Welch p) "
             "| zeros after ICS per layer | agrees? |", "|---|---|---|---|---|---|"]
    for name, (label, paper_change, paper_zeros) in PAPER.items():
        runs = by_stem.get(name)
        paper = f"{paper_change * 100:+.2f}e-2" if name != "full" else f"AUC {FULL_AUC}"
        paper += f" ({100 * paper_zeros:.1f}%)" if paper_zeros is not None else ""
        if not runs:
            lines.append(f"| {label} | {paper} | not run | - | - | - |")
            continue
        auc = np.array([float(r["test_AUC"]) for r in runs])
        spread = f" ± {auc.std(ddof=1):.6f}" if len(auc) > 1 else ""
        change, p_value = auc.mean() - full.mean(), None
        if name != "full" and min(len(auc), len(full)) >= 2:
            p_value = float(stats.ttest_ind(auc, full, equal_var=False).pvalue)
        change_text = "-" if name == "full" else f"{change:+.6f}" + (f" ({p_text(p_value)})" if p_value is not None else "")
        lines.append(f"| {label} | {paper} | {auc.mean():.6f}{spread}, {len(auc)} | {change_text} | "
                     f"{zeros_text(runs)} | {verdict(paper_change, change, p_value)} |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="+", help="results.csv of a paper_experiments bench (or several)")
    args = parser.parse_args(argv)
    try:
        by_stem, notes = read_rows(args.results)
    except OSError as error:
        raise SystemExit(f"error: cannot read {error.filename}: {error.strerror}")
    except KeyError as error:
        raise SystemExit(f"error: {' '.join(args.results)}: no column {error} (expected a bench results.csv)")
    print(table(by_stem))
    if notes:
        print("\nReruns that did not reproduce their first run's test AUC:\n\n" + "\n".join(f"- {n}" for n in notes))


if __name__ == "__main__":
    sys.exit(main())
