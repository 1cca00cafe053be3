"""What a run leaves behind: the results row (``results.csv``), FuxiCTR's result line, and their
provenance (the code version, the machine, the command that made them)."""
import csv
import io
import os
import platform
import subprocess
import sys
from datetime import datetime, timezone

from .safe_files import append_line

RESULT_COLUMNS = ["expid", "model", "seed", "config_hash", "valid_AUC", "valid_logloss", "test_AUC", "test_logloss",
                  "valid_gAUC", "test_gAUC",
                  "best_epoch", "epochs_run", "params_non_embedding", "params_total", "train_time_s",
                  "samples_per_s", "fuxictr_version", "torch_version", "device", "threads", "execution", "ics_zeros",
                  "code_version",
                  "command", "finished_at"]

def read_results(path, warn=None):
    """The complete rows of a results CSV; a row torn by a crash (too few fields) is skipped and
    named through ``warn`` (default: stderr), so the benchmark resumes and redoes that run."""
    if not os.path.isfile(path):
        return []
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        rows, torn = [], []
        for row in reader:
            if None in row.values() or None in row:
                torn.append(reader.line_num)
            else:
                rows.append(row)
    for line in torn:
        (warn or _warn)(f"{path}: line {line} is incomplete (a run interrupted while writing it); skipped")
    return rows


def _warn(message):
    print(f"warning: {message}", file=sys.stderr)


def append_result(path, row):
    """Append ``row`` (and the header, for a new file) as one atomic line write. A file written
    with older columns is first rewritten with today's (its rows keep their values; a column they
    lack stays empty), through a temporary file and a rename."""
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=RESULT_COLUMNS)
    if not os.path.isfile(path) or os.path.getsize(path) == 0:
        writer.writeheader()
    else:
        with open(path, newline="") as handle:
            header = next(csv.reader(handle), [])
        if header != RESULT_COLUMNS:
            rows = read_results(path)
            with open(path + ".tmp", "w", newline="") as handle:
                upgraded = csv.DictWriter(handle, fieldnames=RESULT_COLUMNS, restval="", extrasaction="ignore")
                upgraded.writeheader()
                upgraded.writerows(rows)
            os.replace(path + ".tmp", path)
    writer.writerow(row)
    append_line(path, text.getvalue())


def format_metrics(metrics):
    return " - ".join(f"{name}: {value:.6f}" for name, value in metrics.items())


def user_command(argv=None):
    """This process's command line as a user would type it again: ``fuxictr-ssr ...`` for the
    console command and ``python -m fuxictr_ssr`` (how a benchmark starts its runs), ``python
    <script> ...`` otherwise (FuxiCTR's form); the benchmark's private ``--result-json`` file is
    left out."""
    argv = list(sys.argv if argv is None else argv)
    ours = os.path.basename(argv[0]) == "fuxictr-ssr" or argv[0].endswith(os.path.join("fuxictr_ssr", "__main__.py"))
    words = ["fuxictr-ssr" if ours else f"python {argv[0]}"]
    rest = iter(argv[1:])
    for word in rest:
        if word == "--result-json":
            next(rest, None)
        elif not word.startswith("--result-json="):
            words.append(word)
    return " ".join(words)


def append_result_line(result_csv, expid, dataset_id, valid_result, test_result):
    """One line in FuxiCTR's result format, appended atomically (earlier lines are never touched)."""
    append_line(result_csv, f" {datetime.now().strftime('%Y%m%d-%H%M%S')},[command] {user_command()},"
                            f"[exp_id] {expid},[dataset_id] {dataset_id},[train] N.A.,"
                            f"[val] {format_metrics(valid_result)},[test] {format_metrics(test_result)}")


def invoked_command(argv, leave_out=("--report-only",)):
    """The ``fuxictr-ssr`` command (``argv`` after the program name) that makes a results folder's
    rows, as a leaderboard names it (flags that only change the report left out)."""
    return "fuxictr-ssr " + " ".join(a for a in argv if a not in leave_out)


def code_version():
    """The code a row comes from: ``<package version>+g<commit>`` (``.dirty`` with uncommitted
    changes) in a git checkout, the package version otherwise."""
    from . import __version__
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        described = subprocess.run(["git", "-C", root, "describe", "--always", "--dirty=.dirty", "--abbrev=10"],
                                   capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return __version__
    if described.returncode != 0 or not described.stdout.strip():
        return __version__
    return f"{__version__}+g{described.stdout.strip()}"


def result_row(result, fingerprint, version="", command=""):
    """One results row; ``version`` (:func:`code_version`) and ``command`` (the user's command that
    made it) are its provenance."""
    return {
        "expid": result["expid"], "model": result["model"], "seed": result["seed"], "config_hash": fingerprint,
        "valid_AUC": result["valid"]["AUC"], "valid_logloss": result["valid"]["logloss"],
        "test_AUC": result["test"]["AUC"], "test_logloss": result["test"]["logloss"],
        # the user-grouped AUC of a run whose metrics ask for it (empty otherwise)
        "valid_gAUC": result["valid"].get("gAUC", ""), "test_gAUC": result["test"].get("gAUC", ""),
        "best_epoch": result["best_epoch"], "epochs_run": result["epochs_run"],
        "params_non_embedding": result["params_non_embedding"], "params_total": result["params_total"],
        "train_time_s": round(result["train_time_s"], 2), "samples_per_s": round(result["samples_per_s"], 1),
        "fuxictr_version": result["fuxictr_version"], "torch_version": result["torch_version"],
        "device": result["device"], "threads": result["threads"], "execution": result.get("execution", ""),
        "ics_zeros": "/".join(f"{share:.4f}" for share in result.get("ics_zeros", [])), "code_version": version, "command": command,
        "finished_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def cpu_name():
    """The CPU model (from /proc/cpuinfo where there is one), for benchmark reports."""
    if os.path.exists("/proc/cpuinfo"):
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def publish_report(text, out=None):
    """Print a benchmark script's markdown section and append it to ``out`` (a results file that
    collects one section per dataset or run)."""
    print(text)
    if out:
        with open(out, "a") as handle:
            handle.write("\n" + text)


def machine_description(rows):
    devices = sorted({r["device"] for r in rows})
    versions = sorted({f"fuxictr {r['fuxictr_version']}, torch {r['torch_version']}" for r in rows})
    threads = sorted({r.get("threads") or "unrecorded" for r in rows})
    return (f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPU cores, "
            f"device {', '.join(devices)}, threads per run {', '.join(threads)}; {'; '.join(versions)}; "
            f"Python {platform.python_version()}")


