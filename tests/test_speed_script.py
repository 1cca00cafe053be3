"""The speed benchmark runs end to end in its quick mode (figures are not checked: they are
machine-dependent; only that every section is measured and reported)."""
import os
import re
import subprocess
import sys

SCRIPT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks", "speed.py")


def test_quick_mode_reports_every_family_filter_and_ics_overhead(tmp_path):
    out = tmp_path / "speed.md"
    subprocess.run([sys.executable, SCRIPT, "--quick", "--threads", "1", "--out", str(out)],
                   check=True, capture_output=True, text=True, timeout=600)
    report = out.read_text()
    for family in ("DNN", "DCNv2", "SSR_S", "SSR_D"):
        row = re.search(rf"^\| 30,000 \| {family} \| \d+ \| ([\d,]+) \| [\d.]+ \| ([\d,]+) \| ([\d,]+) \| (\d+)% \|",
                        report, re.M)
        assert row, family
        assert int(row.group(2).replace(",", "")) > 0 and int(row.group(3).replace(",", "")) > 0
        assert 0 < int(row.group(4)) <= 100  # share of the step in matrix products
    assert "| views x width | batched gather + bmm | per-view loop | masked dense matmul |" in report
    assert re.search(r"^\| 16 x 32 \| [\d,]+ \| [\d,]+ \| [\d,]+ \|$", report, re.M)
    assert re.search(r"ICS overhead .* [+-]\d+\.\d% time per step", report)
    assert "Command: `python benchmarks/speed.py --quick" in report
