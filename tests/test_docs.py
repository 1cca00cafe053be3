"""The numbers of the front page come from a committed leaderboard, and stay equal to it."""
import os
import re

import pytest

from helpers import fuxictr_version

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BOARD = os.path.join(REPO_ROOT, "results", "experiments", "Frappe_x1", "tuned", "leaderboard.md")
ML_BOARD = os.path.join(REPO_ROOT, "results", "experiments", "MovieLens100K", "tuned", "leaderboard.md")


def table_rows(text, first_cell):
    """The cells of every markdown table row whose first cell matches ``first_cell``."""
    return [[cell.strip() for cell in line.strip().strip("|").split("|")]
            for line in text.splitlines() if re.match(rf"\|\s*{first_cell}\s*\|", line)]


def board_rows(text):
    """``{expid: {column header: cell}}`` of a leaderboard's table."""
    header = table_rows(text, "rank")[0]
    return {row[1]: dict(zip(header, row)) for row in table_rows(text, r"\d+")}


@pytest.mark.parametrize("board_path, first_cell, tuning", [
    (BOARD, r"\w+_frappe_x1(_tuned)?", None),  # every row of the tuned Frappe_x1 board
    (ML_BOARD, r"\w+_movielens100k_tuned", "tuned: 12 trials"),  # the rows of MovieLens100K's 12-trial searches
])
def test_the_readme_results_tables_are_the_tuned_leaderboards(board_path, first_cell, tuning):
    readme = open(os.path.join(REPO_ROOT, "README.md")).read()
    board = board_rows(open(board_path).read())
    shown = table_rows(readme, first_cell)
    assert [cells[0] for cells in shown] == [e for e, row in board.items() if tuning in (None, row["tuning"])]
    for expid, tuning_shown, auc, logloss, params, *verdicts in shown:
        row = board[expid]
        assert [tuning_shown, auc, logloss, params] == [row["tuning"], row["test AUC"], row["test logloss"], row["params"]]
        for metric, verdict in zip(("AUC", "logloss"), verdicts):
            if verdict != "(best)":
                gap, p_value, word = [part.strip() for part in verdict.split(",")]
                assert row[f"{metric} vs best other"].startswith(gap), (expid, metric)
                assert float(p_value) == float(f"{float(row[f'{metric} p']):.2g}") and word == row[f"{metric} verdict"]
            else:  # the best mean on that metric: ahead of every other (higher AUC, lower logloss)
                assert row[f"{metric} vs best other"].startswith("+" if metric == "AUC" else "-"), (expid, metric)


def _doc_block(path, starts_with):
    """The lines of the first fenced block of ``path`` whose first line starts with ``starts_with``."""
    blocks = re.findall(r"```\w*\n(.*?)```", open(os.path.join(REPO_ROOT, path)).read(), re.S)
    return next(block.splitlines() for block in blocks if block.startswith(starts_with))


def _metrics(line):
    """``{(split, metric): value}`` of a FuxiCTR result line."""
    return {(split, name): float(value) for split, part in re.findall(r"\[(val|test)\] ([^,\[]+)", line)
            for name, value in re.findall(r"(\w+): ([\d.]+)", part)}


@pytest.mark.slow
@pytest.mark.skipif(fuxictr_version() != "2.3.10", reason="the documented line is fuxictr 2.3.10's")
def test_the_documented_result_line_is_what_ssr_test_prints(trained_zoo):
    shown = _metrics(_doc_block("docs/fuxictr.md", " 2")[0])
    printed = _metrics(open(trained_zoo / "config.csv").read().splitlines()[-1])
    assert set(shown) == set(printed) and len(shown) == 4
    for key, value in shown.items():
        assert printed[key] == pytest.approx(value, abs=5e-4), key  # 6 digits shown; other thread counts move them


@pytest.mark.slow
@pytest.mark.skipif(fuxictr_version() != "2.3.10", reason="the documented table is fuxictr 2.3.10's (2.3.9 orders "
                    "tied vocabulary counts another way: the same seed trains another run)")
def test_the_documented_demo_table_is_what_the_demo_prints(tmp_path):
    from fuxictr_ssr.demo import format_table, oracle_test_auc, run_demo, score_test_split
    results = run_demo(str(tmp_path / "demo"))
    table = format_table(results, oracle_test_auc()).splitlines()
    block = _doc_block("docs/development.md", "expid")
    shown = block[:len(table)]  # the table; the block goes on with the scoring line and the total time
    scored = score_test_split(str(tmp_path / "demo"), results[0])
    documented = next(line for line in block if line.startswith("Scored "))
    assert scored.split(" into ")[0] == documented.split(" into ")[0]
    auc, logged = (float(x) for x in re.findall(r"AUC (\d\.\d+) \(its run logged (\d\.\d+)\)", scored)[0])
    assert auc == logged == pytest.approx(results[0]["test"]["AUC"], abs=5e-5)
    assert table[0].split() == shown[0].split() and len(table) == 5 and shown[-1].startswith("oracle")
    for printed_line, shown_line in zip(table[1:], shown[1:]):
        printed, documented = printed_line.split(), shown_line.split()
        assert printed[:2] == documented[:2] and printed[4:5] == documented[4:5]  # names, parameters
        for got, expected in zip(printed[2:4], documented[2:4]):
            if expected != "-":
                assert float(got) == pytest.approx(float(expected), abs=5e-4), (printed_line, shown_line)


def test_the_readme_cost_table_is_the_measured_one():
    """The front page's cost of a full leaderboard is results/leaderboard_cost.md's, cell for cell."""
    measured = {row[0]: row for row in table_rows(open(os.path.join(REPO_ROOT, "results", "leaderboard_cost.md")).read(),
                                                  r"[A-Z]\w+_x\w+")}
    shown = table_rows(open(os.path.join(REPO_ROOT, "README.md")).read(), r"[A-Z]\w+_x\w+")
    shown = [row for row in shown if len(row) == 8]
    assert [row[0] for row in shown] == list(measured) and len(shown) == 7
    for name, train_rows, epochs, dnn, ssr_d, ssr_s, board, gpu in shown:
        row = measured[name]
        assert row[1].startswith(train_rows + " / ") and row[2].startswith(f"[{epochs}]")
        assert [dnn, ssr_d, ssr_s] == row[5:8] and row[8] == f"{board} (13)" and gpu == row[9] == ""


def test_the_serving_speed_table_is_the_measured_one():
    """docs/serving.md's batch-1 speed-ups and latencies are results/inference.md's."""
    measured = {}
    for row in table_rows(open(os.path.join(REPO_ROOT, "results", "inference.md")).read(), r"\w+_criteo_x1"):
        measured[row[0], row[2]] = row
    shown = table_rows(open(os.path.join(REPO_ROOT, "docs", "serving.md")).read(), r"\w+_criteo_x1")
    assert len(shown) == 7
    for expid, compiled, script, onnx, latency in shown:
        for runtime, ratio in (("compiled", compiled), ("torchscript", script), ("onnxruntime", onnx)):
            assert measured[expid, runtime][-1].split(" / ")[1] == ratio, (expid, runtime)
        row = measured[expid, "onnxruntime"]
        assert latency == f"{row[-3]} / {row[-2]}"


def test_the_scoring_memory_figures_are_the_measured_ones():
    rows = {row[0]: row for row in table_rows(open(os.path.join(REPO_ROOT, "results", "predict_memory.md")).read(),
                                              r"[\d,]+")}
    text = " ".join(open(os.path.join(REPO_ROOT, "docs", "serving.md")).read().split())
    peaks = [rows[n][2] for n in ("1,000,000", "4,000,000", "16,000,000")]
    assert f"peaked at {peaks[0]}, {peaks[1]} and {peaks[2]} GB" in text
    assert round(float(rows["16,000,000"][4].replace(",", "")), -3) == 32000


def test_the_concurrency_figures_are_the_measured_ones():
    rows = {row[0]: row for row in table_rows(open(os.path.join(REPO_ROOT, "results", "concurrent_bench.md")).read(),
                                              r"[^|]+")}
    text = " ".join(open(os.path.join(REPO_ROOT, "docs", "benchmarking.md")).read().split())
    jobs, one, both = rows["--jobs 2 (1 thread each)"], rows["one at a time, 1 thread"], rows["one at a time, 2 threads"]
    assert f"took {jobs[2]} s with `--jobs 2` against {one[2]} s one run at a time" in text
    assert f"({jobs[3]}x) and {both[2]} s with both threads" in text
