"""Eval-mode against batch-mode validation AUC of every run of a benchmark results folder.

    python benchmarks/batch_norm_check.py --results results/experiments/Frappe_x1/embedding_bn \\
        --out results/experiments/Frappe_x1/embedding_bn/batch_norm_check.md

Reads the ``BatchNorm check`` lines that every validation of a model with BatchNorm writes to its
log (``<results>/checkpoints/seed_<seed>/<dataset_id>/<expid>.log``, as ``fuxictr-ssr bench``
leaves them) and tabulates, per experiment and validation, the AUC with the running statistics
(what eval mode, the checkpoint and early stopping use) and with each batch's own statistics,
averaged over seeds, with the largest gap; then each run's test AUC and best epoch from
``results.csv``, so runs that differ only in their BatchNorm statistics can be set side by side.
"""
import argparse
import glob
import os
import re
import statistics

CHECK = re.compile(r"BatchNorm check: validation AUC ([0-9.]+) with running statistics \(eval mode\), "
                   r"([0-9.]+) with each batch's own statistics")


def read_checks(results_dir):
    """``{(expid, seed): [(eval AUC, batch AUC), ...]}`` in validation order, for the finished runs
    (those with a row in ``results.csv``; a log of a run still training is left out)."""
    from fuxictr_ssr.records import read_results
    finished = {(r["expid"], int(r["seed"])) for r in read_results(os.path.join(results_dir, "results.csv"))}
    checks = {}
    for path in sorted(glob.glob(os.path.join(results_dir, "checkpoints", "seed_*", "*", "*.log"))):
        seed = int(path.split(os.sep)[-3].split("_", 1)[1])
        expid = os.path.basename(path)[: -len(".log")]
        found = [(float(a), float(b)) for a, b in CHECK.findall(open(path).read())]
        if found and (expid, seed) in finished:
            checks[(expid, seed)] = found
    return checks


def validation_table(checks, first=4):
    lines = ["| expid | validation (epoch) | seeds | AUC, running statistics | AUC, batch statistics | "
             "mean gap | largest gap |", "|---|---|---|---|---|---|---|"]
    for expid in sorted({e for e, _ in checks}):
        runs = [v for (e, _), v in checks.items() if e == expid]
        for k in range(min(first, max(len(r) for r in runs))):
            at_k = [r[k] for r in runs if len(r) > k]
            gaps = [b - a for a, b in at_k]
            lines.append(f"| {expid} | {k + 1} | {len(at_k)} | {statistics.mean(a for a, _ in at_k):.6f} "
                         f"| {statistics.mean(b for _, b in at_k):.6f} | {statistics.mean(gaps):+.6f} "
                         f"| {max(gaps, key=abs):+.6f} |")
    return lines


def runs_table(results_dir):
    from fuxictr_ssr.records import read_results
    rows = read_results(os.path.join(results_dir, "results.csv"))
    lines = ["| expid | seed | best epoch | epochs run | valid AUC | test AUC | test logloss |",
             "|---|---|---|---|---|---|---|"]
    for row in sorted(rows, key=lambda r: (int(r["seed"]), r["expid"])):
        lines.append(f"| {row['expid']} | {row['seed']} | {row['best_epoch']} | {row['epochs_run']} "
                     f"| {float(row['valid_AUC']):.6f} | {float(row['test_AUC']):.6f} "
                     f"| {float(row['test_logloss']):.6f} |")
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", required=True, help="a results folder written by fuxictr-ssr bench")
    parser.add_argument("--first", type=int, default=4, help="validations per experiment in the table (default 4)")
    parser.add_argument("--out", help="also append the report to this markdown file")
    args = parser.parse_args(argv)
    from fuxictr_ssr.records import publish_report
    checks = read_checks(args.results)
    if not checks:
        parser.error(f"--results: no 'BatchNorm check' lines in the run logs under {args.results!r}/checkpoints")
    text = "\n".join([f"## BatchNorm check: {os.path.basename(os.path.normpath(args.results))}", "",
                      f"Command: `python benchmarks/batch_norm_check.py --results {args.results}`", "",
                      "Validation AUC with the running statistics (eval mode) and with each batch's own "
                      "statistics, mean over seeds; gap = batch - running.", ""]
                     + validation_table(checks, args.first) + ["", "Runs:", ""] + runs_table(args.results)) + "\n"
    publish_report(text, args.out)


if __name__ == "__main__":
    main()
