"""The speed benchmark runs end to end in its quick mode (figures are not checked: they are
machine-dependent; only that every section is measured and reported). Two of the four modes keep
the run short; ``compiled+bf16`` goes through both execution options."""
import os
import re
import subprocess
import sys

import pytest

SCRIPT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks", "speed.py")
NUMBER = r"[\d,]+(?:\.\d+)?"
RATIO = r"\d+\.\d\d \(\d+\.\d\d-\d+\.\d\d\)"


@pytest.mark.slow
def test_quick_mode_reports_every_family_mode_target_filter_and_ics_overhead(tmp_path):
    out = tmp_path / "speed.md"
    subprocess.run([sys.executable, SCRIPT, "--quick", "--threads", "1", "--modes", "eager,compiled+bf16",
                    "--out", str(out)], check=True, capture_output=True, text=True, timeout=900)
    report = out.read_text()
    rows = {}
    for match in re.finditer(rf"^\| 30,000 \| (\w+) \| \d+ \| ([\w+]+) \| ({NUMBER}) \| ({NUMBER}) \| ({NUMBER}) "
                             rf"\| ({RATIO}) \| ({RATIO}) \| ({NUMBER}) \| ({NUMBER}) \| (\d+) \| ({NUMBER}) "
                             rf"\| (\d+)% \| ({NUMBER}) \|$", report, re.M):
        rows[match.group(1), match.group(2)] = match.groups()
    assert set(rows) == {(family, mode) for family in ("DNN", "DCNv2", "SSR_S", "SSR_D")
                         for mode in ("eager", "compiled+bf16")}
    for (family, mode), row in rows.items():
        params, rate, moved, ops = (float(row[i].replace(",", "")) for i in (2, 3, 8, 9))
        assert params >= 30_000 and rate > 0 and moved > 0 and ops > 0, (family, mode)
        # no upper bound: the roofline adds compute time and copy time (a step overlaps them) at peaks
        # from one short calibration, so a quick run on a busy machine reaches 105-126% (measured)
        assert int(row[11]) > 0, (family, mode)
    assert rows["DNN", "eager"][5] == "1.00 (1.00-1.00)"  # the DNN against itself
    assert re.search(r"^- 30,000 params, SSR_D compiled\+bf16 vs the DNN eager: \d+\.\d\d \(target >= 1\.00: "
                     r"(met|missed by \d+\.\d\d)\); roofline share \d+% against the DNN's \d+%, [\d,]+ KB moved "
                     r"/ sample against [\d,]+$", report, re.M)
    assert re.search(r"ICS overhead .* [+-]\d+\.\d \([+-]\d+\.\d-[+-]\d+\.\d\)% time per step", report)
    assert "| views x width | batched gather + bmm | per-view loop | masked dense matmul |" in report
    assert re.search(r"^\| 16 x 32 \| [\d,]+ \| [\d,]+ \| [\d,]+ \|$", report, re.M)
    assert "Command: `python benchmarks/speed.py --quick" in report


@pytest.mark.slow
def test_unknown_mode_is_named_before_any_timing():
    result = subprocess.run([sys.executable, SCRIPT, "--quick", "--modes", "eager,fast"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "--modes: unknown fast; expected some of eager, compiled, bf16, compiled+bf16" in result.stderr


TABLES_SCRIPT = os.path.join(os.path.dirname(SCRIPT), "embedding_tables.py")


@pytest.mark.slow
def test_embedding_tables_quick_mode_reports_every_mode_its_phases_and_the_target(tmp_path):
    out = tmp_path / "tables.md"
    subprocess.run([sys.executable, TABLES_SCRIPT, "--quick", "--families", "DNN,SSR_S", "--out", str(out)],
                   check=True, capture_output=True, text=True, timeout=900)
    report = out.read_text()
    rows = {}
    for match in re.finditer(rf"^\| (\w+) \| (tower|dense|sparse) \| ({NUMBER}) \| ({NUMBER}) \| ({NUMBER}) "
                             rf"\| ({RATIO})((?: \| {NUMBER}){{5}}) \|$", report, re.M):
        rows[match.group(1), match.group(2)] = match.groups()
    assert set(rows) == {(family, mode) for family in ("DNN", "SSR_S") for mode in ("tower", "dense", "sparse")}
    for family in ("DNN", "SSR_S"):
        assert rows[family, "tower"][5] == "1.00 (1.00-1.00)"
        assert rows[family, "tower"][2] == "3,900"  # 39 fields x 100 ids
        assert rows[family, "dense"][2] == rows[family, "sparse"][2] != "3,900"  # the rehearsal's, / 100
        assert re.search(rf"^- {family}: sparse \d+\.\d\dx the tower \((met|missed by \d+\.\d\d)\); dense protocol "
                         rf"\d+\.\d\dx$", report, re.M)


COST_SCRIPT = os.path.join(os.path.dirname(SCRIPT), "leaderboard_cost.py")


@pytest.mark.slow
def test_leaderboard_cost_quick_mode_reports_hours_per_family_and_the_whole_board(tmp_path):
    feature_map = tmp_path / "feature_map.json"
    feature_map.write_text('{"features": [{"user": {"type": "categorical", "vocab_size": 957}}, '
                           '{"item": {"type": "categorical", "vocab_size": 4083}}]}')  # fuxictr's layout
    out = tmp_path / "cost.md"
    subprocess.run([sys.executable, COST_SCRIPT, "--quick", "--datasets", "Frappe_x1,KKBox_x1",
                    "--vocab", f"Frappe_x1={feature_map}", "--out", str(out)],
                   check=True, capture_output=True, text=True, timeout=900)
    report = out.read_text()
    # 957 + 4,083 ids from the given map, 100 for each of the other 8 fields
    frappe = re.search(r"^\| Frappe_x1 \| 202,027 / 57,722 / 28,860 \| \[16\]\(\S+DNN_frappe_x1\) \| 5,840 ids "
                       rf"\(\S+feature_map.json\) \| 256 \| ({NUMBER}) \| ({NUMBER}) \| ({NUMBER}) \| ({NUMBER}) \(3\) \|  \|$",
                       report, re.M)
    assert frappe, report
    runs = [float(frappe.group(i)) for i in (1, 2, 3)]
    assert all(h >= 0 for h in runs) and float(frappe.group(4)) == pytest.approx(5 * sum(runs), abs=1.5)  # shown rounded (0.0 h on a fast machine)
    assert re.search(r"^\| KKBox_x1 \| .* \| 100 ids per field \(table cost not counted\) \|", report, re.M)


@pytest.mark.slow
def test_leaderboard_cost_names_an_unknown_dataset():
    result = subprocess.run([sys.executable, COST_SCRIPT, "--datasets", "Frappe"], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 2 and "--datasets: unknown Frappe; expected some of Criteo_x1" in result.stderr
