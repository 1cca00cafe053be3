"""What a run shows while it trains and keeps afterwards: in-epoch progress lines, per-validation
curves beside the log (and as TensorBoard scalars), and the curves plot of a leaderboard."""
import json
import re

import pytest

from fuxictr_ssr.data import SyntheticSpec
from fuxictr_ssr.runner import run_experiment
from helpers import generated_experiment

PROGRESS = re.compile(r"Progress: epoch (\d+), batch (\d+)/(\d+) \((\d+)%\), ([\d,]+) samples/s, about (\d+ s|\d+ min) "
                      r"left in the epoch, train loss ([0-9.]+)")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """SSR-D (2 ICS layers) with a progress line at every batch and TensorBoard, and a DNN with
    progress lines off; 2 epochs of 10 batches each."""
    tmp_path = tmp_path_factory.mktemp("progress")
    spec = SyntheticSpec(num_rows=2560 * 10 // 8, num_fields=6, num_informative=2, num_interactions=1, vocab_size=9,
                         seed=4)
    experiments = {"SSR_D_gen": {"model": "SSR", "num_views": [2, 2], "view_dims": [8, 8], "progress_seconds": 1e-9,
                                 "log_to": "tensorboard"},
                   "DNN_gen": {"model": "DNN", "hidden_units": [16], "progress_seconds": None}}
    config_dir = generated_experiment(tmp_path, experiments, spec=spec,
                                      base={"batch_size": 256, "epochs": 2, "log_to_console": False})
    folder = tmp_path / "checkpoints" / "gen"
    return {expid: (run_experiment(config_dir, expid, result_csv=str(tmp_path / "r.csv")),
                    (folder / f"{expid}.log").read_text(),
                    [json.loads(line) for line in open(folder / f"{expid}.curves.jsonl")], folder)
            for expid in experiments}


def test_progress_lines_inside_every_epoch_say_batches_speed_time_left_and_loss(runs):
    _, log, _, _ = runs["SSR_D_gen"]
    lines = PROGRESS.findall(log)
    # a line once progress_seconds have passed since the last one or the epoch's start: every batch but the first
    assert [(int(e), int(b)) for e, b, *_ in lines] == [(e, b) for e in (1, 2) for b in range(2, 11)]
    assert all(int(total) == 10 and int(share) == round(100 * int(b) / 10) for _, b, total, share, *_ in lines)
    assert all(float(speed.replace(",", "")) > 0 and 0 < float(loss) < 2 for *_, speed, _, loss in lines)
    assert "Progress:" not in runs["DNN_gen"][1]  # progress_seconds: null


def test_every_validation_is_a_curve_line_with_the_logged_metrics(runs):
    result, log, curves, _ = runs["SSR_D_gen"]
    logged = [float(a) for a in re.findall(r"\[Metrics\] AUC: ([0-9.]+)", log)][:2]  # the two validations
    assert [c["epoch"] for c in curves] == [1, 2] and [c["step"] for c in curves] == [10, 20]
    assert [round(c["valid"]["AUC"], 6) for c in curves] == logged
    assert all(c["learning_rate"] == 1e-3 and 0 < c["train_loss"] < 2 for c in curves)
    assert curves[0]["seconds"] < curves[1]["seconds"]
    assert len(curves[0]["ics_surviving"]) == 2 and all(0 < share <= 1 for share in curves[0]["ics_surviving"])
    assert runs["DNN_gen"][2][0]["ics_surviving"] == []  # no ICS layer


def test_tensorboard_gets_the_same_scalars(runs):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    _, _, curves, folder = runs["SSR_D_gen"]
    events = EventAccumulator(str(folder / "tensorboard" / "SSR_D_gen"))
    events.Reload()
    assert {"train/loss", "valid/AUC", "learning_rate", "ics/surviving_fraction_layer_0",
            "ics/surviving_fraction_layer_1"} <= set(events.Tags()["scalars"])
    assert [e.value for e in events.Scalars("valid/AUC")] == pytest.approx([c["valid"]["AUC"] for c in curves],
                                                                          abs=1e-6)  # stored as float32
    assert [e.step for e in events.Scalars("train/loss")] == [10, 20]


def test_bad_progress_keys_are_named():
    from fuxictr_ssr.models import DNN
    with pytest.raises(ValueError, match="progress_seconds: expected a number of seconds > 0"):
        DNN.check_params({"progress_seconds": 0})
    with pytest.raises(ValueError, match="log_to: expected null or tensorboard, got 'wandb'"):
        DNN.check_params({"log_to": "wandb"})


def test_a_twelve_trial_search_gets_twelve_colours(tmp_path, monkeypatch):
    import matplotlib.axes
    from fuxictr_ssr.curves import plot_curves
    rows = [{"expid": f"trial_{n:02d}", "seed": "2021"} for n in range(12)]
    folder = tmp_path / "checkpoints" / "seed_2021" / "data"
    folder.mkdir(parents=True)
    for n, row in enumerate(rows):
        lines = [json.dumps({"epoch": e, "valid": {"AUC": 0.5 + 0.01 * n + 0.001 * e}}) for e in (1, 2)]
        (folder / f"{row['expid']}.curves.jsonl").write_text("\n".join(lines) + "\n")
    drawn = []
    real_plot = matplotlib.axes.Axes.plot
    monkeypatch.setattr(matplotlib.axes.Axes, "plot", lambda self, *a, **k: drawn.append(k["color"]) or
                        real_plot(self, *a, **k))
    assert plot_curves(str(tmp_path), "search", rows) == str(tmp_path / "curves.png")
    assert len(drawn) == 12 and len(set(drawn)) == 12
