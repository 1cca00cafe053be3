"""Peak memory and speed of ``fuxictr-ssr predict`` as the input file grows.

    fuxictr-ssr demo --work-dir ssr_demo        # a trained model and its raw test csv
    python benchmarks/predict_memory.py --config ssr_demo/config --expid SSR_D_demo \\
        --data ssr_demo/data/ssr_demo_csv/test.csv --rows 3e4,1e6,4e6 --out results/predict_memory.md

For each row count the input csv's rows are repeated into a file of that many rows, and the
scoring runs in its own process under ``/usr/bin/time -v`` (its peak resident set, and its wall
time); scoring reads the file in chunks, so the peak should not grow with the rows.
"""
import argparse
import os
import platform
import re
import subprocess
import sys
import tempfile

import torch
from report import emit


def write_rows(source, rows, path):
    """``path``: ``source``'s header, then its data lines repeated until ``rows`` lines."""
    with open(source, "rb") as handle:
        header, lines = handle.readline(), handle.readlines()
    with open(path, "wb") as out:
        out.write(header)
        written = 0
        while written < rows:
            chunk = lines[:rows - written]
            out.writelines(chunk)
            written += len(chunk)


def measure(args, data, out):
    command = ["/usr/bin/time", "-v", sys.executable, "-m", "fuxictr_ssr", "predict", "--config", args.config,
               "--expid", args.expid, "--data", data, "--out", out]
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    if done.returncode != 0:
        raise SystemExit(done.stderr[-2000:])
    peak_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr).group(1))
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", done.stderr).group(1)
    seconds = sum(float(part) * 60 ** i for i, part in enumerate(reversed(wall.split(":"))))
    return peak_kb / 2 ** 20, seconds


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", required=True)
    parser.add_argument("--expid", required=True)
    parser.add_argument("--data", required=True, help="a raw csv the model can score")
    parser.add_argument("--rows", default="3e4,1e6,4e6", help="row counts of the scored files")
    parser.add_argument("--out", help="also write the markdown report here")
    args = parser.parse_args(argv)
    from fuxictr_ssr.records import cpu_name
    lines = ["# `predict` memory and speed against the input's rows", "",
             f"Command: `python benchmarks/predict_memory.py {' '.join(argv if argv is not None else sys.argv[1:])}`  ",
             f"Machine: {cpu_name()}, {os.cpu_count()} cores; torch {torch.__version__}, Python {platform.python_version()}; "
             "each scoring its own process under /usr/bin/time -v, chunks of 100,000 rows", "",
             "| rows | file MB | peak RSS GB | wall s | rows/s (incl. start-up) |", "|---|---|---|---|---|"]
    with tempfile.TemporaryDirectory() as folder:
        for rows in (int(float(r)) for r in args.rows.split(",")):
            data = os.path.join(folder, f"rows_{rows}.csv")
            write_rows(args.data, rows, data)
            peak, seconds = measure(args, data, os.path.join(folder, "scores.csv"))
            lines.append(f"| {rows:,} | {os.path.getsize(data) / 2 ** 20:,.0f} | {peak:.2f} | {seconds:.1f} | "
                         f"{rows / seconds:,.0f} |")
            print(lines[-1], flush=True)
            os.remove(data)
    emit(lines, args.out)


if __name__ == "__main__":
    main()
