"""Gather a tuned leaderboard: a benchmark folder's experiments beside the points ``fuxictr-ssr tune``
chose, in one config folder, with the rows that already ran them, so that ``bench --report-only``
ranks them on one board without training anything.

    python benchmarks/gather_tuned.py --benchmark benchmark_configs/MovieLens100K \\
        --tuned results/experiments/MovieLens100K/tuned --config-out experiments/MovieLens100K/tuned
    fuxictr-ssr bench --config experiments/MovieLens100K/tuned --seeds 2021,190034,992817,27011,948432 \\
        --gpu -1 --out results/experiments/MovieLens100K/tuned --report-only

Writes ``<config-out>/model_config.yaml`` (every benchmark experiment, ``Base`` merged in, its ``tuning``
label kept or ``untuned``; then each ``<tuned>/<model>/chosen`` block), ``<config-out>/dataset_config.yaml``
(the benchmark's dataset block by ``from:``) and ``<tuned>/results.csv``: the rows of the benchmark's
results folder (``--benchmark-results``, default the folder ``bench`` writes) and of every
``<tuned>/<model>/final_*/results.csv``. A row whose config hash no longer matches its block is kept
in the file and left off the board, as everywhere.
"""
import argparse
import csv
import glob
import os
import sys

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO_ROOT)

from fuxictr_ssr.config import read_yaml  # noqa: E402
from fuxictr_ssr.experiment import default_results_folder  # noqa: E402
from fuxictr_ssr.records import RESULT_COLUMNS, read_results  # noqa: E402
from fuxictr_ssr.tune import write_config_folder  # noqa: E402


def merged_blocks(config_dir, expids=None, default_tuning=None):
    """``{expid: Base merged with its block}`` of a config folder's ``model_config.yaml``."""
    blocks = read_yaml(os.path.join(config_dir, "model_config.yaml"))
    base = blocks.pop("Base", None) or {}
    unknown = sorted(set(expids or []) - set(blocks))
    if unknown:
        raise ValueError(f"--benchmark-expids: {', '.join(unknown)} not in {config_dir}")
    merged = {}
    for expid, block in blocks.items():
        if expids is None or expid in expids:
            merged[expid] = {**base, **(block or {})}
            if default_tuning:
                merged[expid].setdefault("tuning", default_tuning)
    return merged


def gather(benchmark, tuned, config_out, benchmark_results=None, benchmark_expids=None):
    """Write the config folder and the gathered ``results.csv``; return ``(experiments, rows)`` counts."""
    chosen_dirs = sorted(glob.glob(os.path.join(tuned, "*", "chosen")))
    if not chosen_dirs:
        raise ValueError(f"--tuned: no <model>/chosen folder in {tuned} (run fuxictr-ssr tune first)")
    experiments = merged_blocks(benchmark, benchmark_expids, default_tuning="untuned")
    for chosen in chosen_dirs:
        experiments.update(merged_blocks(chosen))
    dataset_ids = {block["dataset_id"] for block in experiments.values()}
    if len(dataset_ids) != 1:
        raise ValueError(f"the experiments name {len(dataset_ids)} datasets ({', '.join(sorted(dataset_ids))}); expected one")
    source = os.path.relpath(benchmark, config_out)
    header = (f"# Gathered by benchmarks/gather_tuned.py: the experiments of {benchmark} beside the points\n"
              f"# fuxictr-ssr tune chose ({tuned}/<model>/chosen); each block's `tuning` key names its group.\n")
    write_config_folder(config_out, dataset_ids.pop(), {"from": source}, {}, experiments, header=header)
    sources = [os.path.join(benchmark_results or default_results_folder(benchmark), "results.csv")]
    sources += sorted(glob.glob(os.path.join(tuned, "*", "final_*", "results.csv")))
    rows = [row for path in sources for row in read_results(path)]
    with open(os.path.join(tuned, "results.csv"), "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=RESULT_COLUMNS, restval="", extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return len(experiments), len(rows)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--benchmark", required=True, help="the benchmark config folder (its untuned / BARS-tuned experiments)")
    parser.add_argument("--benchmark-results", help="its results folder (default: the one bench writes)")
    parser.add_argument("--benchmark-expids", nargs="+", help="only these benchmark experiments (default: all)")
    parser.add_argument("--tuned", required=True, help="the folder of <model>/chosen and <model>/final_<seed> runs")
    parser.add_argument("--config-out", required=True, help="the config folder to write")
    args = parser.parse_args()
    try:
        experiments, rows = gather(args.benchmark, args.tuned, args.config_out, args.benchmark_results,
                                   args.benchmark_expids)
    except (ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"{args.config_out}: {experiments} experiments; {os.path.join(args.tuned, 'results.csv')}: {rows} rows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
