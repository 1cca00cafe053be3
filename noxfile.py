"""The versions we promise, tested: each nox session installs the plugin with one set of versions
in a fresh virtualenv and runs the smoke subset (the registry, the pinned parity test, an
experiment through a model_zoo folder's ``run_expid.py`` and a ``bench`` on generated data,
``predict`` and ``doctor``), or, for ``newest``, the whole suite.

    pip install nox
    nox -s oldest            # fuxictr 2.3.9, numpy 1.26, polars 1.34: the smoke subset
    nox -s newest            # fuxictr 2.3.10, numpy 2, polars 2: the smoke subset
    nox -s newest -- full    # ... the whole suite

Both sets use torch 2.13.0 (the CPU wheel our machines have on disk; PyPI's older wheels are CUDA
builds of several GB): the oldest torch ``setup.py`` admits (2.1) is not in the matrix.
"""
import nox

nox.options.default_venv_backend = "venv"
nox.options.reuse_existing_virtualenvs = True

VERSION_SETS = {
    # numpy 1.26 needs a pyarrow and pandas of its time (pyarrow >= 20 and pandas 3 want numpy 2)
    "oldest": ["fuxictr==2.3.9", "numpy==1.26.4", "polars==1.34.0", "pyarrow==18.1.0", "pandas==2.2.3", "torch==2.13.0"],
    "newest": ["fuxictr==2.3.10", "numpy==2.4.6", "polars==2.1.0", "torch==2.13.0"],
}
# the smoke subset: the registry, the pinned parity with the authors' models, an experiment through
# model_zoo/SSR's run_expid.py, bench on generated data (resume, leaderboard), predict with numerics,
# sequences and missing values (the fitted feature processor), the h5 build, doctor
SMOKE = ["tests/test_registry.py", "tests/test_parity.py", "tests/test_doctor.py", "tests/test_h5_store.py",
         "tests/test_end_to_end.py::test_model_zoo_run_expid_and_console_command",
         "tests/test_bench.py::test_runs_every_expid_and_seed_then_resumes",
         "tests/test_predict.py::test_numerics_sequences_and_missing_values_reproduce_the_logged_metrics"]


def install_and_test(session, versions):
    session.install(*versions, "-e", ".[test]")
    session.run("python", "-m", "fuxictr_ssr", "doctor")
    full = "full" in session.posargs
    session.run("python", "-m", "pytest", "-q", "-p", "no:cacheprovider",
                *(["tests", "--doctest-modules", "fuxictr_ssr/layers", "fuxictr_ssr/optim.py"] if full else SMOKE))


@nox.session
def oldest(session):
    install_and_test(session, VERSION_SETS["oldest"])


@nox.session
def newest(session):
    install_and_test(session, VERSION_SETS["newest"])
