"""How far the BatchNorm warm start moved a benchmark's rows: each experiment's rows trained with
torch's running averages (its config with ``batch_norm_warm_start: false``, the rows from before
the switch) against its rows with the warm start (the config as it is), seed by seed.

    python benchmarks/warm_start_rows.py --config benchmark_configs/Frappe_x1 --results results/Frappe_x1 \\
        --expids DNN_frappe_x1 DeepFM_frappe_x1 DCNv2_frappe_x1 --out results/Frappe_x1/batch_norm_warm_start.md

Both sets of rows are read from the folder's ``results.csv`` by their config hash, so a rerun with
``fuxictr-ssr bench`` after the switch leaves both there. Per experiment: the mean change of test
AUC and logloss, the seed spread (sample std) of the rows before, the two-sided Welch p of before
against after, and how many seeds gave the same value to 6 decimals.
"""
import argparse
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from report import emit  # noqa: E402

from fuxictr_ssr.experiment import config_fingerprint, resolve  # noqa: E402
from fuxictr_ssr.published import welch_p  # noqa: E402
from fuxictr_ssr.records import read_results  # noqa: E402


def paired_rows(config_dir, rows, expid):
    """``{seed: (row before, row after)}`` for the seeds with both."""
    params = resolve(config_dir, expid)
    hashes = {"before": config_fingerprint({**params, "batch_norm_warm_start": False}),
              "after": config_fingerprint(params)}
    found = {side: {int(r["seed"]): r for r in rows if r["expid"] == expid and r["config_hash"] == h}
             for side, h in hashes.items()}
    return {seed: (found["before"][seed], found["after"][seed]) for seed in sorted(found["before"])
            if seed in found["after"]}


def metric_cells(pairs, column):
    before = [float(b[column]) for b, _ in pairs.values()]
    after = [float(a[column]) for _, a in pairs.values()]
    change = statistics.mean(after) - statistics.mean(before)
    spread = statistics.stdev(before) if len(before) > 1 else float("nan")
    p_value = welch_p(before, after)
    same = sum(round(b, 6) == round(a, 6) for b, a in zip(before, after))
    return [f"{statistics.mean(before):.6f}", f"{statistics.mean(after):.6f}", f"{change:+.6f}", f"{spread:.6f}",
            "-" if p_value is None else f"{p_value:.3g}", f"{same}/{len(before)}"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, help="the benchmark folder the rows ran from")
    parser.add_argument("--results", required=True, help="its results folder (results.csv)")
    parser.add_argument("--expids", nargs="+", required=True)
    parser.add_argument("--out")
    args = parser.parse_args()
    rows = read_results(os.path.join(args.results, "results.csv"))
    lines = ["| expid | seeds | metric | before | after | change | std before | p (Welch) | same |",
             "|---|---|---|---|---|---|---|---|---|"]
    for expid in args.expids:
        pairs = paired_rows(args.config, rows, expid)
        if not pairs:
            lines.append(f"| {expid} | 0 | - | - | - | - | - | - | - |")
            continue
        for metric in ("test_AUC", "test_logloss"):
            lines.append(f"| {expid} | {len(pairs)} | {metric.replace('_', ' ')} | "
                         + " | ".join(metric_cells(pairs, metric)) + " |")
        lines.append(f"| {expid} | {len(pairs)} | best epoch | "
                     f"{statistics.mean(float(b['best_epoch']) for b, _ in pairs.values()):.1f} | "
                     f"{statistics.mean(float(a['best_epoch']) for _, a in pairs.values()):.1f} | - | - | - | - |")
    emit([f"# BatchNorm warm start: {args.results}", "", f"`python benchmarks/warm_start_rows.py --config {args.config} "
          f"--results {args.results} --expids {' '.join(args.expids)}`", "",
          "Before: rows trained with torch's running averages in the hidden-layer BatchNorm (`batch_norm_warm_start: "
          "false`); after: with the warm start (the default). Same seeds on both sides; same: seeds whose value is "
          "equal to 6 decimals.", "", *lines], args.out)


if __name__ == "__main__":
    main()
