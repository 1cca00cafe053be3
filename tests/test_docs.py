"""The numbers of the front page come from a committed leaderboard, and stay equal to it."""
import os
import re

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BOARD = os.path.join(REPO_ROOT, "results", "experiments", "Frappe_x1", "tuned", "leaderboard.md")


def table_rows(text, first_cell):
    """The cells of every markdown table row whose first cell matches ``first_cell``."""
    return [[cell.strip() for cell in line.strip().strip("|").split("|")]
            for line in text.splitlines() if re.match(rf"\|\s*{first_cell}\s*\|", line)]


def test_the_readme_results_table_is_the_tuned_frappe_leaderboard():
    readme = open(os.path.join(REPO_ROOT, "README.md")).read()
    board = {row[1]: row for row in table_rows(open(BOARD).read(), r"\d+")}
    shown = table_rows(readme, r"(DNN|DCNv2|DeepFM|SSR_S|SSR_D|WuKong|RankMixer)")
    assert len(shown) == len(board) == 7
    for expid, tuning, auc, logloss, params, verdict in shown:
        row = next(r for name, r in board.items() if re.fullmatch(rf"{expid}_frappe_x1(_tuned)?", name))
        assert [tuning, auc, logloss, params] == [row[3], row[5], row[6], row[8]], expid
        if verdict != "(best)":
            gap, p_value, word = [part.strip() for part in verdict.split(",")]
            assert row[11].startswith(gap) and float(p_value) == float(f"{float(row[12]):.2g}") and word == row[13]
