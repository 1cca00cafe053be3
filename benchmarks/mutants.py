"""Plant known bugs in a copy of the package and check that the test suite catches each one.

Each mutant is one plausible mistake (a single edit of one line); the tests named beside it must
fail with the mutant in place and pass without it. The copy lives in a temporary folder put first
on ``PYTHONPATH``, so the checkout itself is never edited.

    python benchmarks/mutants.py            # every mutant; exit 1 if one survives
    python benchmarks/mutants.py --list
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# name: (file under fuxictr_ssr/, text, replacement, tests that must catch it)
MUTANTS = {
    "loader shuffle ignores its seed": (
        "data/loader.py", "manual_seed(self.seed * 1000003 + self.epoch)", "manual_seed(1000003 + self.epoch)",
        ["tests/test_data.py::test_loader_shuffle_follows_its_seed"]),
    "BARS logloss not installed in fuxictr.metrics": (
        "compat.py", "    fuxictr.metrics.log_loss = clipped_log_loss", "    pass",
        ["tests/test_data.py::test_fuxictr_scores_logloss_the_bars_way_once_the_plugin_is_imported"]),
    "resume skips runs by position": (
        "bench.py", "return plan, [item for item in plan if item not in done]", "return plan, plan[len(done):]",
        ["tests/test_bench.py::test_resume_redoes_exactly_the_missing_and_stale_runs_wherever_they_are"]),
    "fingerprint ignores batch_size": (
        "experiment.py", 'NOT_FINGERPRINTED = {"seed",', 'NOT_FINGERPRINTED = {"batch_size", "seed",',
        ["tests/test_bench.py::test_every_key_that_can_change_a_result_changes_the_fingerprint"]),
    "valid AUC in the test AUC column": (
        "leaderboard.py", '_mean_std(s["test_AUC"], s["seeds"]), _mean_std(s["test_logloss"]',
        '_mean_std(s["valid_AUC"], s["seeds"]), _mean_std(s["test_logloss"]',
        ["tests/test_bench.py::test_leaderboard_columns_parse_back_to_the_csv_means"]),
    "every SSR-S layer draws with one filter seed": (
        "models/ssr.py", 'filter_seed=filter_seed + depth if filter_index_rule == "torch" else depth + 1',
        'filter_seed=filter_seed if filter_index_rule == "torch" else 1',
        ["tests/test_registry.py::test_each_ssr_s_layer_draws_its_own_index_sets"]),
    "embedding normalisation skipped": (
        "models/ssr.py", "self.ssr_layers(self.embedding_norm(feature_emb).flatten(start_dim=1))",
        "self.ssr_layers(feature_emb.flatten(start_dim=1))",
        ["tests/test_batch_norm.py::test_the_embedding_normalisation_is_applied_in_the_forward_pass"]),
    "verdict on the gap or the p-value": (
        "leaderboard.py", "abs(gap) > min_gap and p_value < SIGNIFICANCE", "abs(gap) > min_gap or p_value < SIGNIFICANCE",
        ["tests/test_bench.py::test_a_verdict_needs_both_the_gap_and_the_significance"]),
    "verdict threshold 1e-4": (
        "published.py", "MIN_AUC_GAP, MIN_LOGLOSS_GAP, SIGNIFICANCE, MIN_SEEDS_FOR_TEST = 1e-3,",
        "MIN_AUC_GAP, MIN_LOGLOSS_GAP, SIGNIFICANCE, MIN_SEEDS_FOR_TEST = 1e-4,",
        ["tests/test_bench.py::test_a_verdict_needs_both_the_gap_and_the_significance"]),
    "lower logloss counted as worse": (
        "leaderboard.py", 'verdict = "better" if (gap > 0) == higher else "worse"', 'verdict = "better" if gap > 0 else "worse"',
        ["tests/test_bench.py::test_logloss_gets_its_own_verdict_lower_being_better_and_every_row_is_tested_against_the_dnn"]),
    "best other taken among rows without a test": (
        "leaderboard.py", 's["expid"] != entry["expid"] and s["seeds"] >= MIN_SEEDS_FOR_TEST]', 's["expid"] != entry["expid"]]',
        ["tests/test_bench.py::test_leaderboard_gives_gap_welch_p_and_verdict_for_every_experiment"]),
    "fingerprint ignores net_dropout": (
        "experiment.py", 'NOT_FINGERPRINTED = {"seed",', 'NOT_FINGERPRINTED = {"net_dropout", "seed",',
        ["tests/test_bench.py::test_every_key_that_can_change_a_result_changes_the_fingerprint"]),
    "fingerprint ignores learning_rate": (
        "experiment.py", 'NOT_FINGERPRINTED = {"seed",', 'NOT_FINGERPRINTED = {"learning_rate", "seed",',
        ["tests/test_bench.py::test_every_key_that_can_change_a_result_changes_the_fingerprint"]),
    "fingerprint ignores epochs": (
        "experiment.py", 'NOT_FINGERPRINTED = {"seed",', 'NOT_FINGERPRINTED = {"epochs", "seed",',
        ["tests/test_bench.py::test_every_key_that_can_change_a_result_changes_the_fingerprint"]),
    "fingerprint ignores --max-epochs": (
        "bench.py", "params = {expid: resolve(folder, expid, max_epochs=max_epochs) for",
        "params = {expid: resolve(folder, expid) for",
        ["tests/test_bench.py::test_rows_made_under_max_epochs_are_not_rows_of_the_uncapped_config"]),
    "raw check reads only the first numeric column": (
        "data/raw_check.py", "[name for name in numeric_columns(feature_cols) if name in header])",
        "[name for name in numeric_columns(feature_cols) if name in header][:1])",
        ["tests/test_h5_store.py::test_bad_csv_is_named_before_anything_is_built"]),
    "a bench's run outlives a killed bench": (
        "bench.py", "preexec_fn=_die_with_parent,", "preexec_fn=None,",
        ["tests/test_catalogue.py::test_killed_benchmark_takes_its_run_with_it"]),
    "appends written in pieces": (
        "safe_files.py", "        os.write(descriptor, line.encode())",
        "        [os.write(descriptor, line[i:i + 64].encode()) for i in range(0, len(line), 64)]",
        ["tests/test_results_kept.py::test_an_append_is_one_write_so_a_failure_after_it_leaves_the_line_whole"]),
}


def run_tests(tests, package_root):
    """Exit code of pytest over ``tests`` with the package imported from ``package_root`` (the
    working folder too, since ``python -m`` puts it first on the path)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))}
    imported = subprocess.run([sys.executable, "-c", "import fuxictr_ssr; print(fuxictr_ssr.__file__)"],
                              cwd=package_root, env=env, capture_output=True, text=True).stdout.strip()
    if not imported.startswith(package_root):
        raise SystemExit(f"the copy is not the package imported ({imported}); is fuxictr_ssr installed non-editable?")
    tests = [os.path.join(REPO_ROOT, test) for test in tests]
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *tests],
                          cwd=package_root, env=env, capture_output=True, text=True)
    return done.returncode


def check(name, scratch):
    path, text, replacement, tests = MUTANTS[name]
    package = os.path.join(scratch, "fuxictr_ssr")
    shutil.rmtree(package, ignore_errors=True)
    shutil.copytree(os.path.join(REPO_ROOT, "fuxictr_ssr"), package, ignore=shutil.ignore_patterns("__pycache__"))
    if run_tests(tests, scratch) != 0:
        return "the tests fail without the mutant"
    target = os.path.join(package, path)
    with open(target) as handle:
        source = handle.read()
    if source.count(text) != 1:
        return f"the text to mutate occurs {source.count(text)} times in {path} (the code changed?)"
    with open(target, "w") as handle:
        handle.write(source.replace(text, replacement))
    return "caught" if run_tests(tests, scratch) != 0 else "SURVIVED"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--list", action="store_true", help="print the mutants and their tests; run nothing")
    args = parser.parse_args()
    if args.list:
        for name, (path, _, _, tests) in MUTANTS.items():
            print(f"{name} ({path}): {', '.join(tests)}")
        return 0
    outcomes = {}
    with tempfile.TemporaryDirectory() as scratch:
        for name in MUTANTS:
            outcomes[name] = check(name, scratch)
            print(f"{outcomes[name]:>8}  {name}", flush=True)
    return 0 if all(outcome == "caught" for outcome in outcomes.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
