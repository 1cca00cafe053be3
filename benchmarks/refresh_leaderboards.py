"""Rewrite every committed leaderboard from its ``results.csv`` with today's leaderboard code (new
columns, new tests), running nothing: ``fuxictr-ssr bench --report-only`` on each folder, with the
config, seeds, epoch cap and title its board was made with.

    python benchmarks/refresh_leaderboards.py                 # every board under results/
    python benchmarks/refresh_leaderboards.py results/Frappe_x1 results/experiments/Frappe_x1/tuned

What each board was made from is read back from the board and its rows: the title and seeds from
``leaderboard.md``, the config folder and ``--max-epochs`` from the commands the rows and the board record; a
tune search (``<model>/search``) reads its ``<model>/trials`` folder, a tune rerun
(``<model>/final*``) its ``<model>/chosen``, a scaling sweep its ``config/``, and a board gathered from several commands names its
config in ``GATHERED``. A board whose config cannot be worked out is named and left as it is.
"""
import argparse
import glob
import os
import re
import sys

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO_ROOT)

from fuxictr_ssr.bench import run_benchmark  # noqa: E402
from fuxictr_ssr.records import read_results  # noqa: E402

# boards whose rows come from several folders: the config folder that defines all their experiments
# (benchmarks/gather_tuned.py writes them)
GATHERED = {"results/experiments/Frappe_x1/tuned": "experiments/Frappe_x1/tuned",
            "results/experiments/MovieLens100K/tuned": "experiments/MovieLens100K/tuned"}


def board_source(folder):
    """``(config, seeds, max_epochs, title, command)`` of the board in ``folder`` (``command``: the
    first one the board names, kept for rows that do not record theirs); ``ValueError`` naming what
    cannot be worked out."""
    text = open(os.path.join(folder, "leaderboard.md")).read()
    title = re.match(r"# (.*) leaderboard", text).group(1)
    seeds = [int(s) for s in re.search(r"^Seeds: ([\d, ]+)\.", text, re.M).group(1).split(", ")]
    commands = {row.get("command", "") for row in read_results(os.path.join(folder, "results.csv"))}
    on_board = re.findall(r"`(fuxictr-ssr (?:bench|tune|scale) [^`]*)`", text)  # rows from before that column
    commands |= set(on_board)
    caps = {m.group(1) for c in commands for m in [re.search(r"--max-epochs (\d+)", c)] if m}
    relative = os.path.relpath(folder, REPO_ROOT)
    name, parent = os.path.basename(folder), os.path.dirname(folder)
    if relative in GATHERED:
        config = os.path.join(REPO_ROOT, GATHERED[relative])
    elif name == "search":
        config = os.path.join(parent, "trials")
    elif name.startswith("final"):
        config = os.path.join(parent, "chosen")
    elif os.path.isdir(os.path.join(folder, "config")):  # a scale sweep's own folder
        config = os.path.join(folder, "config")
    else:
        configs = {m.group(1) for c in commands for m in [re.search(r"--config (\S+)", c)] if m}
        if len(configs) != 1:
            raise ValueError(f"{relative}: rows from {len(configs)} config folders ({', '.join(sorted(configs))}); "
                             "name its config in GATHERED")
        config = os.path.join(REPO_ROOT, configs.pop())
    if len(caps) > 1:
        raise ValueError(f"{relative}: rows made under different --max-epochs ({', '.join(sorted(caps))})")
    return config, seeds, int(caps.pop()) if caps else None, title, on_board[0] if on_board else ""


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="*", help="results folders (default: every board under results/)")
    args = parser.parse_args()
    folders = args.folders or sorted(os.path.dirname(p) for p in glob.glob(
        os.path.join(REPO_ROOT, "results", "**", "leaderboard.md"), recursive=True))
    failed = []
    for folder in folders:
        try:
            config, seeds, max_epochs, title, command = board_source(folder)
            rows = run_benchmark(config, seeds, folder, report_only=True, max_epochs=max_epochs, title=title,
                                 command=command, log=lambda message: None)
            print(f"{os.path.relpath(folder, REPO_ROOT)}: {len(rows)} rows ({os.path.relpath(config, REPO_ROOT)})")
        except (ValueError, OSError) as error:
            failed.append(folder)
            print(f"{os.path.relpath(folder, REPO_ROOT)}: left as it is: {error}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
