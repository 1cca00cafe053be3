"""Every committed experiment keeps its fingerprint (the results rows' ``config_hash``): a change of
how configs are written or loaded (presets, shared dataset blocks, moved folders) must leave what
each experiment trains as it was. A deliberate config edit updates the fixture:
``python tests/test_config_fingerprints.py`` rewrites it (then review its diff)."""
import glob
import json
import os
import sys

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO_ROOT)

from fuxictr_ssr.experiment import config_fingerprint, list_expids, resolve  # noqa: E402

FIXTURE = os.path.join(REPO_ROOT, "tests", "fixtures", "config_fingerprints.json")


def current_fingerprints():
    """``{"<folder>::<expid>": fingerprint}`` over every config folder of the repository."""
    found = {}
    for path in sorted(glob.glob(os.path.join(REPO_ROOT, "**", "model_config.yaml"), recursive=True)):
        folder = os.path.dirname(path)
        if ".venv" in os.path.relpath(folder, REPO_ROOT).split(os.sep):
            continue
        for expid in list_expids(folder):
            found[f"{os.path.relpath(folder, REPO_ROOT)}::{expid}"] = config_fingerprint(resolve(folder, expid))
    return found


def test_every_experiment_keeps_its_fingerprint():
    with open(FIXTURE) as handle:
        recorded = json.load(handle)
    current = current_fingerprints()
    assert sorted(current) == sorted(recorded), "experiments added or removed: rewrite the fixture (see the docstring)"
    changed = {key: (recorded[key], current[key]) for key in recorded if recorded[key] != current[key]}
    assert not changed, changed


if __name__ == "__main__":
    with open(FIXTURE, "w") as handle:
        json.dump(current_fingerprints(), handle, indent=1, sort_keys=True)
        handle.write("\n")
    print(f"wrote {FIXTURE}")
