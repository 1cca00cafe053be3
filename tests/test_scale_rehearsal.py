"""The full-size rehearsal's script, run end to end at CI size: every stage measured, resumable."""
import csv
import os
import subprocess
import sys

import pytest

SCRIPT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks", "scale_rehearsal.py")


@pytest.mark.slow
def test_the_rehearsal_measures_every_stage_and_resumes(tmp_path):
    command = [sys.executable, SCRIPT, "--rows", "5e4", "--steps", "1", "--epoch-at", "5e4",
               "--out", str(tmp_path / "out"), "--work", str(tmp_path / "work")]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    rows = list(csv.DictReader(open(tmp_path / "out" / "rehearsal.csv")))
    assert [r["stage"] for r in rows] == ["generate", "prepare", "build", "train_SSR", "train_DNN", "epoch_SSR"]
    assert all(int(r["rows"]) == 50000 and float(r["wall_s"]) > 0 and int(r["peak_rss_mb"]) > 0 for r in rows)
    assert '"steps": 1,' in rows[3]["detail"] and '"steps": 4,' in rows[5]["detail"]  # 40k train rows, batch 10k
    assert not (tmp_path / "work" / "rows_50000").exists()  # a measured size's files are deleted
    assert (tmp_path / "out" / "rehearsal.png").is_file()
    assert "| 50,000 | build |" in (tmp_path / "out" / "rehearsal.md").read_text()
    again = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0 and "rows:" not in again.stdout  # everything done: nothing reruns
    assert len(list(csv.DictReader(open(tmp_path / "out" / "rehearsal.csv")))) == 6
