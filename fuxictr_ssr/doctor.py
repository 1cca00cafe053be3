"""``fuxictr-ssr doctor``: the versions and devices that decide whether this plugin works here, and
the known incompatibilities between them, each with its fix.

A check is a problem (the exit status is 1) when something this package needs is missing or
outside the versions it supports; a note when an optional part (ONNX export, the TPE sampler,
``torch.compile`` on CPU, bf16) is unavailable. ``bench`` writes the report beside every
leaderboard it runs (``doctor.md``), so a board names the software that made it.
"""
import os
import platform
import re
import shutil
import sys
from dataclasses import dataclass
from importlib import metadata

SUPPORTED = {"fuxictr": ("2.3.9", "2.4"), "torch": ("2.1", None), "polars": ("1.34", "3")}
OPTIONAL = {"optuna": "the TPE sampler of `tune --sampler tpe` (pip install optuna)",
            "onnxruntime": "`export --format onnx` and its parity check (pip install 'fuxictr-ssr[export]')",
            "onnx": "`export --format onnx` (pip install 'fuxictr-ssr[export]')",
            "onnxscript": "`export --format onnx` (pip install 'fuxictr-ssr[export]')",
            "ray": "`bench` / `tune --ray` (fuxictr 2.3.10 installs it; pip install ray)",
            "tensorboard": "`log_to: tensorboard` (pip install 'fuxictr-ssr[tensorboard]')"}
REPORTED = ["numpy", "pandas", "scikit-learn", "scipy", "h5py", "pyarrow", "matplotlib"]


@dataclass
class Check:
    name: str
    state: str
    status: str  # "ok", "note" or "problem"
    fix: str = ""


def version_of(package):
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def as_tuple(version):
    """``"1.34.0rc1"`` -> ``(1, 34, 0)``: the leading number of each dotted part, up to the first
    part without one."""
    parts = []
    for piece in version.split("+")[0].split("."):
        digits = re.match(r"\d+", piece)
        if not digits:
            break
        parts.append(int(digits.group()))
    return tuple(parts)


def range_check(package, installed):
    low, high = SUPPORTED[package]
    wanted = f">={low}" + (f",<{high}" if high else "")
    if installed is None:
        return Check(package, "not installed", "problem", f"pip install '{package}{wanted}'")
    inside = as_tuple(installed) >= as_tuple(low) and (high is None or as_tuple(installed) < as_tuple(high))
    fix = "" if inside else f"pip install '{package}{wanted}'"
    return Check(package, installed, "ok" if inside else "problem", fix)


def torch_checks():
    import torch
    checks = [range_check("torch", version_of("torch"))]
    if torch.cuda.is_available():
        for index in range(torch.cuda.device_count()):
            properties = torch.cuda.get_device_properties(index)
            bf16 = "bf16" if torch.cuda.is_bf16_supported() else "no bf16"
            checks.append(Check(f"cuda:{index}", f"{properties.name}, {properties.total_memory / 2**30:.0f} GiB, "
                                f"CUDA {torch.version.cuda}, {bf16}", "ok"))
    else:
        checks.append(Check("cuda", "no CUDA device (CPU runs only: --gpu -1)", "note"))
    compiler = shutil.which("c++") or shutil.which("g++") or shutil.which("clang++")
    checks.append(Check("torch.compile on CPU", f"C++ compiler {compiler}" if compiler else "no C++ compiler found",
                        "ok" if compiler else "note",
                        "" if compiler else "install a C++ compiler (gcc) for `compile: true` on CPU"))
    checks.append(Check("threads", f"torch {torch.get_num_threads()}, cores {os.cpu_count()}", "ok"))
    return checks


def plugin_check():
    try:
        from .registry import list_models
        return Check("registered models", ", ".join(list_models()), "ok")
    except Exception as error:  # noqa: BLE001 -- any import failure of fuxictr or torch is the finding
        return Check("registered models", f"import failed: {error}", "problem", "reinstall: pip install fuxictr-ssr")


def presence_check(package, status_if_missing, fix_if_missing):
    installed = version_of(package)
    return Check(package, installed or "not installed", "ok" if installed else status_if_missing,
                 "" if installed else fix_if_missing)


def run_checks():
    """Every check, in report order."""
    checks = [Check("python", platform.python_version(),
                    "ok" if sys.version_info >= (3, 10) else "problem", "" if sys.version_info >= (3, 10) else
                    "use Python 3.10 or newer")]
    checks += [range_check(package, version_of(package)) for package in ("fuxictr", "polars")]
    checks += torch_checks()
    checks += [presence_check(package, "problem", f"pip install {package}") for package in REPORTED]
    checks += [presence_check(package, "note", f"for {purpose}") for package, purpose in OPTIONAL.items()]
    checks.append(plugin_check())
    return checks


def report(checks):
    """The markdown report: one row per check, then the verdict line."""
    from . import __version__
    lines = [f"# fuxictr-ssr doctor ({__version__}, {platform.system()} {platform.machine()})", "",
             "| check | found | status | fix |", "|---|---|---|---|"]
    lines += [f"| {c.name} | {c.state} | {c.status} | {c.fix} |" for c in checks]
    problems = [c.name for c in checks if c.status == "problem"]
    lines += ["", f"{len(problems)} problem(s): {', '.join(problems)}" if problems else "No problems."]
    return "\n".join(lines) + "\n"
