"""The leaderboard of a results folder: per-experiment means over seeds, each experiment's gap to
the best other one with a Welch t-test and a verdict, and the published numbers beside ours."""
import os

import numpy as np

from .published import (BARS_REFERENCE, MIN_AUC_GAP, MIN_SEEDS_FOR_TEST, PAPER_TABLE3, PUBLISHED_LEADERS, SIGNIFICANCE,
                        welch_p)
from .records import machine_description, read_results

def summarise(rows):
    """Per-expid aggregates over seeds, sorted by mean test AUC (best first)."""
    by_expid = {}
    for row in rows:
        by_expid.setdefault(row["expid"], []).append(row)
    summary = []
    for expid, runs in by_expid.items():
        def stat(column):
            values = np.array([float(r[column]) for r in runs])
            return values.mean(), (values.std(ddof=1) if len(values) > 1 else 0.0)
        summary.append({"expid": expid, "model": runs[0]["model"], "seeds": len(runs),
                        "test_AUC_values": [float(r["test_AUC"]) for r in runs],
                        "test_AUC": stat("test_AUC"), "test_logloss": stat("test_logloss"),
                        "valid_AUC": stat("valid_AUC"), "params": int(runs[0]["params_non_embedding"]),
                        "train_time_s": stat("train_time_s")[0], "best_epoch": stat("best_epoch")[0]})
    summary.sort(key=lambda s: -s["test_AUC"][0])
    for entry in summary:
        entry.update(compare_with_best_other(entry, summary))
    return summary


def compare_with_best_other(entry, summary):
    """Mean test AUC gap of ``entry`` to the best other experiment, the two-sided Welch t-test
    p-value over their seeds (``None`` with fewer than 3 seeds on either side) and the verdict."""
    others = [s for s in summary if s["expid"] != entry["expid"]]
    if not others:
        return {"best_other": None, "gap": None, "p_value": None, "verdict": "-"}
    best = max(others, key=lambda s: s["test_AUC"][0])
    gap = entry["test_AUC"][0] - best["test_AUC"][0]
    p_value = welch_p(entry["test_AUC_values"], best["test_AUC_values"])
    if p_value is None:
        verdict = "-"
    elif abs(gap) > MIN_AUC_GAP and p_value < SIGNIFICANCE:
        verdict = "better" if gap > 0 else "worse"
    else:
        verdict = "tie"
    return {"best_other": best["expid"], "gap": gap, "p_value": p_value, "verdict": verdict}


def current_rows(rows, fingerprints):
    """The rows produced by the experiments' present configs, one per (experiment, seed): a repeat
    (the same run appended twice, e.g. by two commands sharing a results folder) is left out and
    the first row kept, so it never counts as an extra seed."""
    seen, kept = set(), []
    for row in rows:
        key = (row["expid"], int(row["seed"]))
        if fingerprints.get(row["expid"]) == row.get("config_hash") and key not in seen:
            seen.add(key)
            kept.append(row)
    return kept


def _command_lines(rows, command):
    """The commands that made the rows (each row records its own), or ``command`` for rows from
    before that column."""
    made_by = sorted({r.get("command") or command for r in rows} - {""}) or [command]
    if len(made_by) == 1:
        return [f"Command: `{made_by[0]}`"]
    return ["Commands (the rows come from these runs):", ""] + [f"- `{c}`" for c in made_by]


def write_leaderboard(path, dataset, rows, command, stale=0, tuning=None, repeats=0):
    """``tuning``: each experiment's ``tuning`` label (how its setting was chosen; "untuned" where
    the config gives none)."""
    summary = summarise(rows)
    tuning = tuning or {}
    seeds = sorted({int(r["seed"]) for r in rows})
    lines = [f"# {dataset} leaderboard", "",
             f"Machine: {machine_description(rows)}.  ",
             f"Seeds: {', '.join(map(str, seeds))}.  ",
             *_command_lines(rows, command), "",
             "Mean ± sample std over seeds (the value itself for one seed); sorted by mean test AUC. "
             "Params = non-embedding parameters. Tuning: how the experiment's setting was chosen (its config's "
             "`tuning` key; `fuxictr-ssr tune` writes \"tuned: N trials\")."
             + (f" ({stale} rows of earlier configs in results.csv are left out.)" if stale else "")
             + (f" ({repeats} repeated rows of an experiment and seed already counted are left out; the first "
                "row of each is kept.)" if repeats else ""), "",
             "| rank | expid | model | tuning | seeds | test AUC | test logloss | valid AUC | params | best epoch | train s "
             "| vs best other | p (Welch) | verdict |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    def mean_std(stat, runs):
        return f"{stat[0]:.6f} ± {stat[1]:.6f}" if runs > 1 else f"{stat[0]:.6f}"

    for rank, s in enumerate(summary, start=1):
        gap = "-" if s["gap"] is None else f"{s['gap']:+.6f} ({s['best_other']})"
        p_value = "-" if s["p_value"] is None else f"{s['p_value']:.3g}"
        lines.append(f"| {rank} | {s['expid']} | {s['model']} | {tuning.get(s['expid'], 'untuned')} | {s['seeds']} "
                     f"| {mean_std(s['test_AUC'], s['seeds'])} "
                     f"| {mean_std(s['test_logloss'], s['seeds'])} | {s['valid_AUC'][0]:.6f} "
                     f"| {s['params']:,} | {s['best_epoch']:.1f} | {s['train_time_s']:.0f} "
                     f"| {gap} | {p_value} | {s['verdict']} |")
    lines += ["", f"vs best other: mean test AUC minus that of the best other experiment; p: two-sided Welch t-test "
              f"of the two experiments' per-seed test AUCs (with >= {MIN_SEEDS_FOR_TEST} seeds each, else -). "
              f"Verdict: better (worse) only if the mean gap is above (below) {MIN_AUC_GAP:g} in size and "
              f"p < {SIGNIFICANCE:g}; tie otherwise."]
    dataset_key = published_key(dataset)
    reference = BARS_REFERENCE.get(dataset_key)
    if reference:
        lines += ["", "BARS reference (published; seed-2021 leaderboard run, and the 5-seed mean where given):", "",
                  "| model | BARS test AUC | BARS test logloss | BARS 5-seed test AUC |", "|---|---|---|---|"]
        for model, (auc, logloss, five_seed) in reference.items():
            lines.append(f"| {model} | {auc:.4f} | {logloss:.4f} | {five_seed or '-'} |")
    leaders = PUBLISHED_LEADERS.get(dataset_key)
    if leaders:
        lines += ["", "Best published models of this dataset (published, not rerun here; one run each):", "",
                  "| model | test AUC | test logloss |", "|---|---|---|"]
        for model, auc, logloss in leaders:
            lines.append(f"| {model} (published) | {auc:.4f} | {'-' if logloss is None else f'{logloss:.4f}'} |")
        if dataset_key == "Criteo_x4_001":
            lines.append("")
            lines.append("Our Criteo_x4_001 files follow BARS's x4 rule (stratified 10-fold, seed 2018), but the folds "
                         "match reczoo's files only where `data prepare` reported their md5 (reczoo drew them with "
                         "scikit-learn 0.19.1); otherwise these rows are context, not a like-for-like comparison.")
    paper = PAPER_TABLE3.get(dataset_key)
    if paper:
        lines += ["", "The SSR paper's Table 3 (published, not rerun here; its protocol, which this folder follows; "
                  "its split seed is not published, so the test rows differ; one run each):", "",
                  "| model | test AUC | test logloss | backbone params |", "|---|---|---|---|"]
        lines += [f"| {model} (paper) | {auc:.4f} | {logloss:.4f} | {params} |" for model, auc, logloss, params in paper]
    else:
        lines += ["", "The SSR paper's Table 3 (RankMixer, Wukong, SSR) uses its own split and preprocessing (random "
                  "8:1:1; benchmark_configs/Criteo_paper and Avazu_paper follow it), so its numbers are not printed "
                  "beside these."]
    with open(path, "w") as handle:
        handle.write("\n".join(lines) + "\n")


def published_key(title):
    """The dataset whose published numbers a leaderboard prints: its title, or the dataset a
    study's title starts with (``Frappe_x1_paper`` -> ``Frappe_x1``)."""
    known = set(BARS_REFERENCE) | set(PUBLISHED_LEADERS) | set(PAPER_TABLE3)
    return title if title in known else next((k for k in sorted(known, key=len, reverse=True)
                                             if title.startswith(k + "_")), title)


def update_leaderboard(out_dir, dataset, results_csv, fingerprints, command, tuning=None):
    """Rewrite leaderboard.md from the current rows; return them."""
    rows = read_results(results_csv)
    current = current_rows(rows, fingerprints)
    matching = sum(fingerprints.get(r["expid"]) == r.get("config_hash") for r in rows)
    if current:
        write_leaderboard(os.path.join(out_dir, "leaderboard.md"), dataset, current, command,
                          stale=len(rows) - matching, tuning=tuning, repeats=matching - len(current))
    return current
