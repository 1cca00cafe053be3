"""Peak memory of BARS's x4 fold assignment per row (the part of ``data prepare`` that grows with
the file; the rows themselves are streamed).

    python benchmarks/x4_split_memory.py [--rows 5000000]
"""
import argparse
import resource

import numpy as np

from fuxictr_ssr.data.prepare import stratified_folds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000_000, help="labels to split (25%% positive)")
    args = parser.parse_args()
    labels = (np.random.default_rng(0).random(args.rows) < 0.25).astype(np.int8)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    folds = stratified_folds(labels)
    grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024
    per_row = (grown + labels.nbytes) / args.rows
    print(f"{args.rows:,} rows, folds of {np.bincount(folds).tolist()}: {per_row:.1f} bytes per row at the peak "
          f"(labels included); Criteo's 45,840,617 rows: {per_row * 45_840_617 / 2 ** 30:.2f} GiB")


if __name__ == "__main__":
    main()
