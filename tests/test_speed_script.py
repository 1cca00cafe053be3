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
        assert 0 < int(row[11]) <= 100, (family, mode)  # a roofline share is a share
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
