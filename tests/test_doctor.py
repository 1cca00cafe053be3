"""``fuxictr-ssr doctor``: the report, its problems and their fixes, its exit status, and the
report ``bench`` keeps beside a leaderboard."""

import pytest

from fuxictr_ssr import bench, doctor
from fuxictr_ssr.bench import run_benchmark
from fuxictr_ssr.cli import main
from helpers import generated_experiment
from test_bench import SUITE, _fake_result


def test_this_install_has_no_problem_and_the_report_names_every_check(capsys):
    assert main(["doctor"]) == 0
    text = capsys.readouterr().out
    for name in ("python", "fuxictr", "polars", "torch", "threads", "numpy", "scikit-learn", "h5py",
                 "onnxruntime", "registered models"):
        assert f"| {name} |" in text
    assert "DCNv2, DNN, DeepFM, RankMixer, SSR, WuKong" in text and text.rstrip().endswith("No problems.")


@pytest.mark.parametrize("package, installed, fix", [
    ("polars", "1.20.0", "pip install 'polars>=1.34,<3'"),
    ("polars", "3.0.0", "pip install 'polars>=1.34,<3'"),
    ("fuxictr", "2.2.3", "pip install 'fuxictr>=2.3.9,<2.4'"),
    ("fuxictr", None, "pip install 'fuxictr>=2.3.9,<2.4'"),
    ("torch", "2.0.1+cu118", "pip install 'torch>=2.1'"),
])
def test_an_unsupported_version_is_a_problem_with_its_fix_and_exit_1(monkeypatch, capsys, tmp_path, package,
                                                                    installed, fix):
    real = doctor.version_of
    monkeypatch.setattr(doctor, "version_of", lambda name: installed if name == package else real(name))
    with pytest.raises(SystemExit) as stopped:
        main(["doctor", "--out", str(tmp_path / "doctor.md")])
    assert stopped.value.code == 1
    text = capsys.readouterr().out
    assert f"| {package} | {installed or 'not installed'} | problem | {fix}" in text
    assert f"1 problem(s): {package}" in text and (tmp_path / "doctor.md").read_text() == text


def test_a_missing_optional_package_is_a_note_not_a_problem(monkeypatch):
    real = doctor.version_of
    monkeypatch.setattr(doctor, "version_of", lambda name: None if name == "onnxruntime" else real(name))
    checks = {c.name: c for c in doctor.run_checks()}
    assert checks["onnxruntime"].status == "note" and "export --format onnx" in checks["onnxruntime"].fix
    assert not [c for c in checks.values() if c.status == "problem"]


def test_versions_compare_as_numbers():
    assert doctor.as_tuple("2.13.0+cpu") == (2, 13, 0) and doctor.as_tuple("1.34.0rc1") == (1, 34, 0)
    assert doctor.range_check("polars", "1.9.0").status == "problem"  # 1.9 < 1.34, not as text
    assert doctor.range_check("polars", "1.44.2").status == "ok"


def test_bench_keeps_the_doctor_report_beside_the_leaderboard_and_links_it(tmp_path, monkeypatch):
    suite = generated_experiment(tmp_path, SUITE)
    monkeypatch.setattr(bench, "run_one", lambda _, expid, seed, *args, **kwargs: _fake_result(expid, seed))
    out = tmp_path / "results"
    run_benchmark(suite, [1], str(out), expids=["DNN_gen"], log=lambda m: None)
    assert (out / "doctor.md").read_text().startswith("# fuxictr-ssr doctor")
    assert "([doctor report](doctor.md))" in (out / "leaderboard.md").read_text()
