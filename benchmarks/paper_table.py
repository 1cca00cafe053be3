"""The SSR paper's ablations (Table 4) and ICS sensitivity (Table 5) beside ours.

Reads the results of ``fuxictr-ssr bench --config paper_experiments/<dataset> ...`` and prints one
markdown row per experiment: the paper's number (Avazu, its protocol), our mean test AUC over the
seeds run, the change against full SSR-D with a two-sided Welch t-test over seeds, the share of
zeros after ICS per layer (validation split, best checkpoint; rows from before the runner recorded
it show "-") and whether ours agrees with the paper in sign.

    python benchmarks/paper_table.py results/experiments/Frappe_x1/paper/results.csv

Several results files may be given: a run (expid, seed) found in more than one is one run, its
AUC from the first file that has it and its zeros from the first that recorded them (a rerun made
only to record the zeros); a rerun whose test AUC differs from the first by more than 1e-6 is
listed under the table.
"""
import argparse
import csv
import sys

import numpy as np

from fuxictr_ssr.published import PAPER_ABLATIONS as PAPER, PAPER_FULL_SSR_D_AUC as FULL_AUC, SIGNIFICANCE, welch_p


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
        change = auc.mean() - full.mean()
        p_value = None if name == "full" else welch_p(auc, full, min_seeds=2)
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
