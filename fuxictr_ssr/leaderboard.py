"""The leaderboard of a results folder: per-experiment means over seeds; on test AUC and on test
logloss each experiment's gap to the best other one and to the folder's DNN, with a Welch t-test
and a verdict; and the published numbers beside ours."""
import os

import numpy as np

from .published import (BARS_REFERENCE, MIN_AUC_GAP, MIN_LOGLOSS_GAP, MIN_SEEDS_FOR_TEST, PAPER_TABLE3,
                        PUBLISHED_LEADERS, SIGNIFICANCE, welch_p)
from .records import machine_description, read_results

# metric: (results column, higher is better, the smallest mean gap a verdict may rest on)
VERDICT_METRICS = {"AUC": ("test_AUC", True, MIN_AUC_GAP), "logloss": ("test_logloss", False, MIN_LOGLOSS_GAP)}


def summarise(rows):
    """Per-expid aggregates over seeds, sorted by mean test AUC (best first), each with its
    comparisons (:func:`compare`) to the best other experiment on each metric and to the
    folder's DNN (:func:`dnn_reference`)."""
    by_expid = {}
    for row in rows:
        by_expid.setdefault(row["expid"], []).append(row)
    summary = []
    for expid, runs in by_expid.items():
        def stat(column):
            values = np.array([float(r[column]) for r in runs])
            return values.mean(), (values.std(ddof=1) if len(values) > 1 else 0.0)
        entry = {"expid": expid, "model": runs[0]["model"], "seeds": len(runs),
                 "values": {column: [float(r[column]) for r in runs] for column in ("test_AUC", "test_logloss")},
                 "test_AUC": stat("test_AUC"), "test_logloss": stat("test_logloss"),
                 "valid_AUC": stat("valid_AUC"), "params": int(runs[0]["params_non_embedding"]),
                 "train_time_s": stat("train_time_s")[0], "best_epoch": stat("best_epoch")[0]}
        if all(r.get("test_gAUC") not in (None, "") for r in runs):
            entry["test_gAUC"] = stat("test_gAUC")
        summary.append(entry)
    summary.sort(key=lambda s: -s["test_AUC"][0])
    reference = dnn_reference(summary)
    for entry in summary:
        entry["vs_best"] = {metric: compare(entry, best_other(entry, summary, metric), metric)
                            for metric in VERDICT_METRICS}
        entry["vs_dnn"] = ({metric: compare(entry, reference, metric) for metric in VERDICT_METRICS}
                           if reference and reference is not entry else None)
    return summary, reference


def best_other(entry, summary, metric):
    """The best other experiment on ``metric`` among those with enough seeds for a test (a preset
    run once never takes every other row's verdict away)."""
    column, higher, _ = VERDICT_METRICS[metric]
    others = [s for s in summary if s["expid"] != entry["expid"] and s["seeds"] >= MIN_SEEDS_FOR_TEST]
    if not others:
        return None
    return (max if higher else min)(others, key=lambda s: s[column][0])


def dnn_reference(summary):
    """The folder's DNN: of its DNN experiments with enough seeds, the one with the best mean
    validation AUC (chosen on validation, never on test); ``None`` without one."""
    dnns = [s for s in summary if s["model"] == "DNN" and s["seeds"] >= MIN_SEEDS_FOR_TEST]
    return max(dnns, key=lambda s: s["valid_AUC"][0]) if dnns else None


def compare(entry, other, metric):
    """``entry`` against ``other`` on the test ``metric``: the mean gap (entry minus other), the
    two-sided Welch p over their seeds (``None`` with fewer than 3 on either side) and the verdict
    (better / worse only when the gap is beyond the metric's minimum in the metric's good
    direction and p < 0.05, else tie; ``-`` without a test)."""
    if other is None:
        return {"other": None, "gap": None, "p_value": None, "verdict": "-"}
    column, higher, min_gap = VERDICT_METRICS[metric]
    gap = entry[column][0] - other[column][0]
    p_value = welch_p(entry["values"][column], other["values"][column])
    if p_value is None:
        verdict = "-"
    elif abs(gap) > min_gap and p_value < SIGNIFICANCE:
        verdict = "better" if (gap > 0) == higher else "worse"
    else:
        verdict = "tie"
    return {"other": other["expid"], "gap": gap, "p_value": p_value, "verdict": verdict}


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


def _mean_std(stat, runs):
    return f"{stat[0]:.6f} ± {stat[1]:.6f}" if runs > 1 else f"{stat[0]:.6f}"


def _versus(comparison, name=True):
    if comparison["gap"] is None:
        return ["-", "-", "-"]
    p_value = "-" if comparison["p_value"] is None else f"{comparison['p_value']:.3g}"
    gap = f"{comparison['gap']:+.6f}" + (f" ({comparison['other']})" if name else "")
    return [gap, p_value, comparison["verdict"]]


def _table_lines(summary, reference, tuning):
    """The markdown table: one row per experiment; a test gAUC column where every row has one."""
    gauc = all("test_gAUC" in s for s in summary)
    header = (["rank", "expid", "model", "tuning", "seeds", "test AUC", "test logloss"] + (["test gAUC"] if gauc else [])
              + ["valid AUC", "params", "best epoch", "train s", "AUC vs best other", "AUC p", "AUC verdict",
                 "logloss vs best other", "logloss p", "logloss verdict", "vs DNN: AUC; logloss"])
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for rank, s in enumerate(summary, start=1):
        if s["vs_dnn"]:
            auc, logloss = (_versus(s["vs_dnn"][m], name=False) for m in ("AUC", "logloss"))
            vs_dnn = f"{auc[0]} (p {auc[1]}) {auc[2]}; {logloss[0]} (p {logloss[1]}) {logloss[2]}"
        else:
            vs_dnn = "reference" if s is reference else "-"
        cells = ([rank, s["expid"], s["model"], tuning.get(s["expid"], "untuned"), s["seeds"],
                  _mean_std(s["test_AUC"], s["seeds"]), _mean_std(s["test_logloss"], s["seeds"])]
                 + ([_mean_std(s["test_gAUC"], s["seeds"])] if gauc else [])
                 + [f"{s['valid_AUC'][0]:.6f}", f"{s['params']:,}", f"{s['best_epoch']:.1f}", f"{s['train_time_s']:.0f}"]
                 + _versus(s["vs_best"]["AUC"]) + _versus(s["vs_best"]["logloss"]) + [vs_dnn])
        lines.append("| " + " | ".join(map(str, cells)) + " |")
    return lines


def _tuning_groups(summary, tuning):
    """One line naming the experiments of each tuning label, best mean test AUC first, where a
    board mixes labels (settings published by BARS, chosen here by ``tune``, untuned)."""
    groups = {}
    for s in summary:
        groups.setdefault(tuning.get(s["expid"], "untuned"), []).append(s["expid"])
    if len(groups) < 2:
        return []
    return ["Groups by tuning: " + "; ".join(f"**{label}**: {', '.join(expids)}" for label, expids in groups.items())
            + ".", ""]


def write_leaderboard(path, dataset, rows, command, stale=0, tuning=None, repeats=0):
    """``tuning``: each experiment's ``tuning`` label (how its setting was chosen; "untuned" where
    the config gives none)."""
    summary, reference = summarise(rows)
    seeds = sorted({int(r["seed"]) for r in rows})
    lines = [f"# {dataset} leaderboard", "",
             f"Machine: {machine_description(rows)}"
             + (" ([doctor report](doctor.md))" if os.path.isfile(os.path.join(os.path.dirname(path), "doctor.md"))
                else "") + ".  ",
             f"Seeds: {', '.join(map(str, seeds))}.  ",
             *_command_lines(rows, command), "",
             "Mean ± sample std over seeds (the value itself for one seed); sorted by mean test AUC. "
             "Params = non-embedding parameters. Tuning: how the experiment's setting was chosen (its config's "
             "`tuning` key; `fuxictr-ssr tune` writes \"tuned: N trials\")."
             + (f" ({stale} rows of earlier configs in results.csv are left out.)" if stale else "")
             + (f" ({repeats} repeated rows of an experiment and seed already counted are left out; the first "
                "row of each is kept.)" if repeats else ""), "",
             *_table_lines(summary, reference, tuning or {}), "", *_tuning_groups(summary, tuning or {}),
             f"vs best other: the experiment's mean test AUC (logloss) minus that of the best other experiment on "
             f"that metric among those with >= {MIN_SEEDS_FOR_TEST} seeds; p: two-sided Welch t-test of the two "
             f"experiments' per-seed values (with >= {MIN_SEEDS_FOR_TEST} seeds each, else -). Verdict: better "
             f"(worse) only if the mean gap is beyond {MIN_AUC_GAP:g} (AUC) or {MIN_LOGLOSS_GAP:g} (logloss) in "
             f"the metric's good (bad) direction and p < {SIGNIFICANCE:g}; tie otherwise. "
             + (f"vs DNN: the same two tests against {reference['expid']}, the folder's DNN (of its DNN "
                "experiments with enough seeds, the best mean validation AUC)." if reference else
                "vs DNN: no DNN experiment with enough seeds in this folder.")]
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
