"""Training speed with real-size embedding tables: DNN, DCNv2, SSR-D and SSR-S as configured for
Criteo_x4_001, each timed three ways with its own ``train_step`` (forward, loss with the
``embedding_regularizer``, backward, clipping, optimizer step):

* ``tower``: 100 ids per field, FuxiCTR's dense protocol: the embedding cost is negligible, what is
  left is the dense tower's;
* ``dense``: the per-field vocabulary sizes of the full-size rehearsal build (804,260 ids in all,
  ``results/scale_rehearsal/rehearsal.csv``), FuxiCTR's dense protocol (dense table gradients, Adam
  on every row, the regulariser over whole tables);
* ``sparse``: the same tables with ``embedding_optimizer: sparse_adam``
  (:mod:`fuxictr_ssr.models.sparse_embeddings`).

    python benchmarks/embedding_tables.py --out results/embedding_tables.md
    python benchmarks/embedding_tables.py --quick                  # smoke run

All models live in one process at a fixed thread count and are timed in interleaved rounds (the
order rotating), as ``speed.py`` does; ratios to the tower are taken within a round. Ids are drawn
uniformly over each table: the most distinct rows a batch can touch, the sparse path's worst case
(real ids are long-tailed). Where the time goes: each mode's step split into its phases, timed
apart over ``--profile-steps`` extra steps.
"""
import argparse
import csv
import json
import os
import statistics
import sys
import time
from collections import OrderedDict

import torch

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO_ROOT)

CONFIG = os.path.join(REPO_ROOT, "benchmark_configs", "Criteo_x4_001")
EXPIDS = OrderedDict([("DNN", "DNN_criteo_x4_001"), ("DCNv2", "DCNv2_criteo_x4_001"),
                      ("SSR_D", "SSR_D_criteo_x4_001"), ("SSR_S", "SSR_S_criteo_x4_001")])
MODES = ("tower", "dense", "sparse")
TOWER_IDS = 100
TARGET = 0.7  # sparse step with real tables, as a share of the tower's throughput
PHASES = ("forward", "loss + regulariser", "backward", "clip", "optimizer")


def rehearsal_vocabulary(path):
    """Per-field vocab sizes of the largest build in a rehearsal csv, with its row count."""
    with open(path, newline="") as handle:
        builds = [row for row in csv.DictReader(handle) if row["stage"] == "build"]
    if not builds:
        raise SystemExit(f"{path}: no build row to take the vocabulary sizes from")
    largest = max(builds, key=lambda row: int(row["rows"]))
    return json.loads(largest["detail"])["vocab"], int(largest["rows"])


def feature_map(vocab):
    from fuxictr.features import FeatureMap
    fmap = FeatureMap("criteo_x4_001", data_dir="unused")
    fmap.features = OrderedDict((name, {"source": "", "type": "categorical", "padding_idx": 0, "vocab_size": size})
                                for name, size in vocab.items())
    fmap.labels = ["label"]
    fmap.num_fields = len(vocab)
    fmap.set_column_index()
    return fmap


def build(expid, vocab, mode):
    from fuxictr_ssr.config import load_params
    from fuxictr_ssr.registry import create_model
    params = load_params(CONFIG, expid)
    params.update(model_root="unused", gpu=-1, embedding_optimizer="sparse_adam" if mode == "sparse" else None)
    torch.manual_seed(0)
    model = create_model(params, feature_map(vocab)).train()
    model._max_gradient_norm = params.get("max_gradient_norm", 10.0)  # as BaseModel.fit sets it
    return model


def batch(vocab, size, seed=0):
    generator = torch.Generator().manual_seed(seed)
    data = {name: torch.randint(1, n, (size,), generator=generator) for name, n in vocab.items()}
    data["label"] = torch.randint(0, 2, (size,), generator=generator).float()
    return data


def timed(step, repetitions):
    start = time.perf_counter()
    for _ in range(repetitions):
        step()
    return (time.perf_counter() - start) / repetitions


def phase_seconds(model, data):
    """One training step as the model's ``train_step`` runs it, each phase timed apart."""
    from fuxictr_ssr.models.sparse_embeddings import clip_gradient_norm
    marks = [time.perf_counter()]
    model.optimizer.zero_grad()
    out = model(data)
    marks.append(time.perf_counter())
    loss = model.add_loss(out, model.get_labels(data)) + model.regularization_loss()
    marks.append(time.perf_counter())
    loss.backward()
    marks.append(time.perf_counter())
    if model.sparse_tables:
        clip_gradient_norm(model.parameters(), model._max_gradient_norm)
    else:
        torch.nn.utils.clip_grad_norm_(model.parameters(), model._max_gradient_norm)
    marks.append(time.perf_counter())
    model.optimizer.step()
    marks.append(time.perf_counter())
    return [b - a for a, b in zip(marks, marks[1:])]


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vocab-from", default=os.path.join(REPO_ROOT, "results", "scale_rehearsal", "rehearsal.csv"),
                        help="rehearsal csv whose largest build gives the per-field vocabulary sizes")
    parser.add_argument("--families", default=",".join(EXPIDS))
    parser.add_argument("--batch-size", type=int, help="default: the config's (10,000)")
    parser.add_argument("--ids-scale", type=float, default=1.0,
                        help="multiply every field's vocabulary (e.g. 4: tables of the size min_categr_count 1 keeps)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=2, help="training steps per model per round")
    parser.add_argument("--profile-steps", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="small batch, tables / 100, one round")
    parser.add_argument("--out", help="also write the markdown report here")
    args = parser.parse_args(argv)
    args.families = args.families.split(",")
    unknown = [f for f in args.families if f not in EXPIDS]
    if unknown:
        parser.error(f"--families: unknown {', '.join(unknown)}; expected some of {', '.join(EXPIDS)}")
    if args.quick:
        args.batch_size, args.rounds, args.steps, args.profile_steps = 256, 1, 1, 1
    return args


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    real, rows = rehearsal_vocabulary(args.vocab_from)
    if args.ids_scale != 1:  # small fields stay above the tower's size
        real = {name: max(TOWER_IDS + 1, int(size * args.ids_scale)) for name, size in real.items()}
    if args.quick:
        real = {name: max(TOWER_IDS + 1, size // 100) for name, size in real.items()}
    vocab = {"tower": {name: TOWER_IDS for name in real}, "dense": real, "sparse": real}
    from fuxictr_ssr.config import load_params
    batch_size = args.batch_size or load_params(CONFIG, EXPIDS["DNN"])["batch_size"]

    entries = OrderedDict()
    for family in args.families:
        for mode in MODES:
            model = build(EXPIDS[family], vocab[mode], mode)
            data = batch(vocab[mode], batch_size)
            entries[family, mode] = (model, data, [])
            model.train_step(data)  # warm-up (allocations, optimizer state)
    for round_index in range(args.rounds):
        keys = list(entries)
        shift = round_index % len(keys)
        for key in keys[shift:] + keys[:shift]:
            model, data, seconds = entries[key]
            seconds.append(timed(lambda: model.train_step(data), args.steps))
    phases = {key: [statistics.median(p) for p in zip(*(phase_seconds(model, data) for _ in range(args.profile_steps)))]
              for key, (model, data, _) in entries.items()}

    report = render(args, argv, entries, phases, batch_size, real, rows)
    print(report)
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w") as handle:
            handle.write(report)


def spread(values):
    return f"{statistics.median(values):.2f} ({min(values):.2f}-{max(values):.2f})"


def render(args, argv, entries, phases, batch_size, real, rows):
    from fuxictr_ssr.models.checked_model import count_parameters
    from fuxictr_ssr.records import cpu_name
    lines = ["# Training speed with real-size embedding tables", "",
             f"Machine: {cpu_name()}; {os.cpu_count()} cores, {args.threads} torch threads; torch {torch.__version__}.  ",
             f"Command: `python benchmarks/embedding_tables.py {' '.join(sys.argv[1:] if argv is None else argv)}`  ",
             f"Models: `{os.path.relpath(CONFIG, REPO_ROOT)}` ({', '.join(EXPIDS[f] for f in args.families)}), "
             f"batch {batch_size:,}, {len(real)} fields; real tables: {sum(real.values()):,} ids (the {rows:,}-row "
             f"rehearsal build" + (f"'s x {args.ids_scale:g}, each field at least {TOWER_IDS + 1}"
                                   if args.ids_scale != 1 else "") + f"); tower: {TOWER_IDS} ids per field. {args.rounds} interleaved rounds of {args.steps} "
             f"steps per model; phases: median of {args.profile_steps} steps.", "",
             "Ratio: train samples/s over the same family's tower in the same round, median (min-max) over rounds.",
             "", "| family | mode | ids | non-emb params | train samples/s | vs tower | "
             + " | ".join(f"{p} ms" for p in PHASES) + " |",
             "|---|---|---|---|---|---|" + "---|" * len(PHASES)]
    for (family, mode), (model, _, seconds) in entries.items():
        tower = entries[family, "tower"][2]
        ids = sum(spec["vocab_size"] for spec in model.feature_map.features.values())
        lines.append(f"| {family} | {mode} | {ids:,} | {count_parameters(model)[1]:,} | "
                     f"{batch_size / statistics.median(seconds):,.0f} | "
                     f"{spread([t / s for s, t in zip(seconds, tower)])} | "
                     + " | ".join(f"{1e3 * p:,.0f}" for p in phases[family, mode]) + " |")
    lines += ["", f"Target: with `embedding_optimizer: sparse_adam`, real-size tables at >= {TARGET}x the tower's "
                  "throughput, every family:", ""]
    for family in args.families:
        ratio = statistics.median(t / s for s, t in zip(entries[family, "sparse"][2], entries[family, "tower"][2]))
        dense = statistics.median(t / s for s, t in zip(entries[family, "dense"][2], entries[family, "tower"][2]))
        verdict = "met" if ratio >= TARGET else f"missed by {TARGET - ratio:.2f}"
        lines.append(f"- {family}: sparse {ratio:.2f}x the tower ({verdict}); dense protocol {dense:.2f}x")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
