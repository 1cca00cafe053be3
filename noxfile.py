"""The versions we promise, tested: each nox session installs the plugin with one set of versions
in a fresh virtualenv and runs the fast tier (``-m "not slow"``, the doctests included) and the
slow tests of the smoke subset (an experiment through a model_zoo folder's ``run_expid.py``, a
``bench`` that resumes, ``predict`` on a trained model), or, with ``-- full``, the whole suite.

    pip install nox
    nox -s oldest            # torch 2.1.2, fuxictr 2.3.9, numpy 1.26, polars 1.34 (CI runs it)
    nox -s newest            # torch 2.13.0, fuxictr 2.3.10, numpy 2, polars 2
    nox -s oldest -- full    # ... the whole suite

``oldest`` has the oldest torch ``setup.py`` admits. PyPI's torch 2.1.2 for Linux is a CUDA build
(about 3 GB with its CUDA libraries, 2 min to install here); it runs on the CPU as well. Under
it, what torch 2.1 cannot do is refused with the reason and its tests skip: ``ssr_layout:
feature_major`` (its GELU gradient) and ``export --format onnx`` (no ``torch.export`` exporter).
"""
import nox

nox.options.default_venv_backend = "venv"
nox.options.reuse_existing_virtualenvs = True

VERSION_SETS = {
    # numpy 1.26 needs a pyarrow and pandas of its time (pyarrow >= 20 and pandas 3 want numpy 2)
    "oldest": ["torch==2.1.2", "fuxictr==2.3.9", "numpy==1.26.4", "polars==1.34.0", "pyarrow==18.1.0",
               "pandas==2.2.3"],
    "newest": ["torch==2.13.0", "fuxictr==2.3.10", "numpy==2.4.6", "polars==2.1.0"],
}
FAST_TIER = ["tests", "-m", "not slow", "--doctest-modules", "fuxictr_ssr/layers", "fuxictr_ssr/optim.py"]
# the slow tests beside it: an experiment through model_zoo/SSR's run_expid.py, bench on generated
# data (resume, leaderboard), predict with numerics, sequences and missing values
SMOKE_SLOW = ["tests/test_end_to_end.py::test_model_zoo_run_expid_and_console_command",
              "tests/test_bench.py::test_runs_every_expid_and_seed_then_resumes",
              "tests/test_predict.py::test_numerics_sequences_and_missing_values_reproduce_the_logged_metrics"]
FULL = ["tests", "--doctest-modules", "fuxictr_ssr/layers", "fuxictr_ssr/optim.py"]


def install_and_test(session, versions):
    session.install(*versions, "-e", ".[test]")
    session.run("python", "-m", "fuxictr_ssr", "doctor")
    pytest = ["python", "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    if "full" in session.posargs:
        session.run(*pytest, *FULL)
        return
    session.run(*pytest, *FAST_TIER)
    session.run(*pytest, *SMOKE_SLOW)


@nox.session
def oldest(session):
    install_and_test(session, VERSION_SETS["oldest"])


@nox.session
def newest(session):
    install_and_test(session, VERSION_SETS["newest"])
