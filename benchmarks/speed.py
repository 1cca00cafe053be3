"""Training speed of DNN, DCNv2, SSR-S and SSR-D at matched non-embedding parameters, in four
execution modes, with the bytes each step moves and the roofline share each model reaches.

    python benchmarks/speed.py --out results/speed.md            # full run (tens of minutes)
    python benchmarks/speed.py --quick                            # smoke run

Every family is sized by one width knob to each parameter target and built once per mode through
the models' own config keys: ``eager``, ``compiled`` (``compile: true``), ``bf16`` (``precision:
bf16``) and ``compiled+bf16``; SSR runs ``ssr_layout: feature_major`` in the compiled modes (the
layout built for the compiler; its default layout on torch 2.1, which refuses the other) and its
default layout in the eager ones. All models live in one
process at a fixed thread count and are timed in interleaved rounds (each round times every model
once, the order rotating from round to round), so a slow phase of a noisy machine hits all of
them alike; ratios to the DNN are taken within a round and reported as min / median / max over
the rounds. Wall time and process CPU time are both measured.

Bytes moved per sample come from a dispatch-mode counter over one eager training step (every
operator's input and output tensors, views excluded): what an unfused step reads and writes, also
the figure for the compiled rows (whose fused kernels move less). FLOPs are torch's
FlopCounterMode over forward and backward. The two-term roofline of a step is FLOPs at the
measured matmul speed plus bytes at the measured copy bandwidth; a row's roofline share is that
time over its measured step time.
"""
import argparse
import itertools
import os
import platform
import statistics
import sys
import time
from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten
from torch.utils.flop_counter import FlopCounterMode

from fuxictr_ssr.layers import feature_major_supported
from fuxictr_ssr.scaling import width_for, with_width
from report import emit

FIELDS, EMBEDDING_DIM, VOCAB = 39, 16, 100   # a Criteo-shaped input: d_in = 624
FAMILIES = ("DNN", "DCNv2", "SSR_S", "SSR_D")
MODES = OrderedDict([("eager", {}), ("compiled", {"compile": True}), ("bf16", {"precision": "bf16"}),
                     ("compiled+bf16", {"compile": True, "precision": "bf16"})])
# The targets, as ratio to the DNN: (family, mode, against the DNN in which mode, target)
TARGETS = [("SSR_D", "compiled", "compiled", 0.65), ("SSR_D", "compiled+bf16", "eager", 1.0),
           ("SSR_S", "compiled", "compiled", 0.35)]


def feature_map(num_fields=FIELDS):
    from fuxictr.features import FeatureMap
    fmap = FeatureMap("speed", data_dir="unused")
    fmap.features = OrderedDict((f"f{i}", {"source": "", "type": "categorical", "padding_idx": 0,
                                           "vocab_size": VOCAB}) for i in range(num_fields))
    fmap.labels = ["label"]
    fmap.num_fields = num_fields
    fmap.set_column_index()
    return fmap


def family_base(family):
    """The family's settings; ``scaling.with_width`` sets its width knob."""
    if family == "DNN":
        return {"model": "DNN", "hidden_units": [1] * 3}
    if family == "DCNv2":
        return {"model": "DCNv2", "num_cross_layers": 2, "parallel_dnn_hidden_units": [1] * 3}
    if family == "SSR_S":
        return {"model": "SSR", "filter_type": "static", "num_views": [16, 16], "view_dims": [1, 1],
                "fusion_layers": 2, "ics_iterations": 0}
    return {"model": "SSR", "filter_type": "ics", "num_views": [8, 8], "view_dims": [1, 1],
            "fusion_layers": 1, "ics_iterations": 5}


def sized(family, target):
    """``(width, params)`` of the smallest ``family`` model with at least ``target`` parameters."""
    base = {**family_base(family), "embedding_dim": EMBEDDING_DIM, "embedding_norm": "none"}
    width = width_for(family, base, target, feature_map())
    return width, with_width(family, family_base(family), width)


def build(params, mode, device):
    from fuxictr_ssr.registry import create_model
    compiled_ssr = params["model"] == "SSR" and MODES[mode].get("compile")
    layout = {"ssr_layout": "feature_major"} if compiled_ssr and feature_major_supported() else {}
    torch.manual_seed(0)
    return create_model({"embedding_dim": EMBEDDING_DIM, "embedding_norm": "none", "gpu": device_index(device),
                         **params, **MODES[mode], **layout}, feature_map())


def device_index(device):
    return device.index or 0 if device.type == "cuda" else -1


def batch(size, device):
    generator = torch.Generator().manual_seed(0)
    data = {f"f{i}": torch.randint(1, VOCAB, (size,), generator=generator).to(device) for i in range(FIELDS)}
    data["label"] = torch.randint(0, 2, (size,), generator=generator).float().to(device)
    return data


def train_step(model, data):
    labels = data["label"].view(-1, 1)

    def step():
        model.zero_grad(set_to_none=True)
        F.binary_cross_entropy(model(data)["y_pred"], labels).backward()
    return step


def synchronize(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(step, repetitions, device):
    """``(wall, cpu)`` seconds per call of ``step``, over ``repetitions`` calls."""
    synchronize(device)
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(repetitions):
        step()
    synchronize(device)
    return (time.perf_counter() - wall) / repetitions, (time.process_time() - cpu) / repetitions


class BytesMoved(TorchDispatchMode):
    """Bytes of every operator's input and output tensors (views, which move nothing, left out),
    and the number of operators, while active."""

    def __init__(self):
        super().__init__()
        self.bytes, self.ops = 0, 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        alias = func._schema.returns[0].alias_info if func._schema.returns else None
        if alias is None or alias.is_write:
            self.ops += 1
            self.bytes += sum(t.numel() * t.element_size() for t in tree_flatten((args, kwargs, out))[0]
                              if isinstance(t, torch.Tensor))
        return out


def step_traffic(step):
    """``(flops, bytes, ops)`` of one call of ``step`` (forward and backward)."""
    with FlopCounterMode(display=False) as flops:
        step()
    with BytesMoved() as moved:
        step()
    return flops.get_total_flops(), moved.bytes, moved.ops


def machine_peaks(batch_size, device, repetitions=10):
    """Matmul GFLOP/s (fp32 and bf16, [batch, 1024] x [1024, 1024]) and copy bandwidth (GB/s,
    read + write of 256 MB) of this device at this thread count."""
    peaks = {}
    for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        a = torch.randn(batch_size, 1024, device=device, dtype=dtype)
        b = torch.randn(1024, 1024, device=device, dtype=dtype)
        timed(lambda: torch.mm(a, b), 2, device)
        peaks[name] = 2 * batch_size * 1024 * 1024 / timed(lambda: torch.mm(a, b), repetitions, device)[0] / 1e9
    source = torch.randn(64 * 2 ** 20, device=device)
    target = torch.empty_like(source)
    timed(lambda: target.copy_(source), 2, device)
    peaks["bandwidth"] = 2 * source.numel() * 4 / timed(lambda: target.copy_(source), repetitions, device)[0] / 1e9
    return peaks


def filter_implementations(batch_size, views, view_dim, repetitions, device):
    """SSR-S filter + first per-view dense layer, forward+backward, three ways (samples/s)."""
    from fuxictr_ssr.layers import StaticRandomFilter, ViewwiseLinear
    d_in = FIELDS * EMBEDDING_DIM
    filt = StaticRandomFilter(d_in, views, view_dim, seed=0).to(device)
    dense = ViewwiseLinear(views, view_dim, view_dim).to(device)
    x = torch.randn(batch_size, d_in, device=device, requires_grad=True)
    # the masked alternative: one dense [d_in, b*d_v] weight, multiplied by a fixed 0/1 mask that
    # keeps, in view i's column block, only the rows I_i
    dense_weight = torch.randn(d_in, views * view_dim, device=device, requires_grad=True)
    mask = torch.zeros(d_in, views * view_dim, device=device)
    for view in range(views):
        mask[filt.indices[view], view * view_dim:(view + 1) * view_dim] = 1.0

    def batched():
        dense(filt(x)).sum().backward()

    def per_view_loop():
        sum(((x[:, filt.indices[v]] @ dense.weight[v]) + dense.bias[v]).sum() for v in range(views)).backward()

    def masked_dense():
        ((x @ (dense_weight * mask)).view(batch_size, views, view_dim) + dense.bias).sum().backward()

    steps = (("batched gather + bmm", batched), ("per-view loop", per_view_loop), ("masked dense matmul", masked_dense))
    for _, step in steps:
        timed(step, 1, device)
    rounds = {name: [] for name, _ in steps}
    for _ in range(repetitions):  # interleaved as the models are
        for name, step in steps:
            rounds[name].append(timed(step, 1, device)[0])
    return {name: batch_size / statistics.median(seconds) for name, seconds in rounds.items()}


class Entry:
    """One model in one mode: its step, its traffic, and its per-round timings."""

    def __init__(self, target, family, mode, width, model, step):
        self.target, self.family, self.mode, self.width = target, family, mode, width
        self.model, self.step = model, step
        self.wall, self.cpu = [], []

    @property
    def key(self):
        return self.target, self.family, self.mode


def spread(values, fmt="{:.2f}"):
    low, middle, high = min(values), statistics.median(values), max(values)
    return f"{fmt.format(middle)} ({fmt.format(low)}-{fmt.format(high)})"


def machine(args):
    from fuxictr_ssr.records import cpu_name
    gpu = torch.cuda.get_device_name(0) if args.device.startswith("cuda") else "none"
    return (f"{cpu_name()}; {os.cpu_count()} cores, {args.threads} torch threads; GPU: {gpu}; "
            f"torch {torch.__version__}, Python {platform.python_version()}")


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--targets", default="1e6,4e6", help="non-embedding parameter targets")
    parser.add_argument("--families", default=",".join(FAMILIES))
    parser.add_argument("--modes", default=",".join(MODES), help=f"of {', '.join(MODES)}")
    parser.add_argument("--batch-size", type=int, default=4096)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=7, help="interleaved timing rounds")
    parser.add_argument("--steps", type=int, default=2, help="training steps per model per round")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, two rounds (a smoke run)")
    parser.add_argument("--out", help="also write the markdown report here")
    args = parser.parse_args(argv)
    args.families = args.families.split(",")
    args.modes = args.modes.split(",")
    for key, given, known in (("--families", args.families, FAMILIES), ("--modes", args.modes, MODES)):
        unknown = [name for name in given if name not in known]
        if unknown:
            parser.error(f"{key}: unknown {', '.join(unknown)}; expected some of {', '.join(known)}")
    if "DNN" not in args.families or "eager" not in args.modes:
        parser.error("--families and --modes must include DNN and eager: every ratio is to the DNN")
    if args.quick:
        args.targets, args.batch_size, args.rounds, args.steps = "3e4", 256, 2, 1
    return args


def allow_many_compiled_models():
    """Every compiled model here shares its modules' ``forward`` code with the others, and dynamo
    keeps at most ``recompile_limit`` graphs per code object before it falls back to eager; one
    training process holds one model, this one holds them all. Raise the limit, and make a fallback
    an error rather than a compiled row timed eager."""
    import torch._dynamo.config as dynamo
    for name in ("recompile_limit", "cache_size_limit"):  # the name before torch 2.6
        if hasattr(dynamo, name):
            setattr(dynamo, name, 256)
            break
    if hasattr(dynamo, "fail_on_recompile_limit_hit"):
        dynamo.fail_on_recompile_limit_hit = True


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    allow_many_compiled_models()
    device = torch.device(args.device)
    targets = [int(float(t)) for t in args.targets.split(",")]

    entries, traffic = [], {}
    for target, family in itertools.product(targets, args.families):
        width, params = sized(family, target)
        for mode in args.modes:
            model = build(params, mode, device).train()
            entries.append(Entry(target, family, mode, width, model, train_step(model, batch(args.batch_size, device))))
        # traffic is counted on an eager step of each precision the modes use (compiled code hides its ops)
        for precision, mode in (("fp32", "eager"), ("bf16", "bf16")):
            if any(precision_of(entry) == precision for entry in entries[-len(args.modes):]):
                step = train_step(build(params, mode, device).train(), batch(args.batch_size, device))
                step()
                traffic[target, family, precision] = step_traffic(step)
    compile_s = {}
    for entry in entries:  # warm-up: compiles the compiled modes (once per process)
        compile_s[entry.key] = timed(entry.step, 1, device)[0]
        timed(entry.step, 1, device)
    if any(e.family == "SSR_D" for e in entries):  # ICS's cost: the largest SSR-D without its T steps
        largest = max(e.target for e in entries)
        width, params = sized("SSR_D", largest)
        model = build({**params, "ics_iterations": 0}, "eager", device).train()
        no_ics = Entry(largest, "SSR_D T=0", "eager", width, model, train_step(model, batch(args.batch_size, device)))
        timed(no_ics.step, 2, device)
        entries.append(no_ics)
    peaks = machine_peaks(args.batch_size, device)

    for round_index in range(args.rounds):
        shift = round_index % len(entries)
        for entry in entries[shift:] + entries[:shift]:
            wall, cpu = timed(entry.step, args.steps, device)
            entry.wall.append(wall)
            entry.cpu.append(cpu)

    by_key = {entry.key: entry for entry in entries}
    lines = report_header(args, argv, peaks)
    for entry in entries:
        if entry.family == "SSR_D T=0":
            continue
        lines.append(report_row(entry, by_key, traffic, peaks, compile_s, args.batch_size))
        print(lines[-1], flush=True)
    lines += targets_section(by_key, targets, traffic, peaks, args.batch_size)
    if "SSR_D T=0" in {e.family for e in entries}:
        with_ics = by_key[no_ics.target, "SSR_D", "eager"]
        overhead = [a / b - 1 for a, b in zip(with_ics.wall, no_ics.wall)]
        lines += ["", f"ICS overhead (SSR-D at width {no_ics.width}, T=5 vs T=0, eager training step, per round): "
                      f"{spread([100 * o for o in overhead], '{:+.1f}')}% time per step."]

    shapes = [(16, 32)] if args.quick else [(16, 256), (64, 64), (256, 16)]
    lines += ["", "SSR-S filter + first fusion layer, eager fp32 forward+backward, samples/s (the same weights "
                  "three ways, median of interleaved rounds):", "",
              "| views x width | batched gather + bmm | per-view loop | masked dense matmul |", "|---|---|---|---|"]
    for views, view_dim in shapes:
        rates = filter_implementations(args.batch_size, views, view_dim, args.rounds, device)
        lines.append(f"| {views} x {view_dim} | " + " | ".join(f"{rate:,.0f}" for rate in rates.values()) + " |")
    emit(lines, args.out)


def report_header(args, argv, peaks):
    return ["# Training speed: DNN, DCNv2, SSR-S, SSR-D in four execution modes", "",
            f"Machine: {machine(args)}.  ",
            f"Input: {FIELDS} fields x embedding {EMBEDDING_DIM} (d_in = {FIELDS * EMBEDDING_DIM}); batch "
            f"{args.batch_size}; forward + backward training steps; {args.rounds} interleaved rounds of "
            f"{args.steps} steps per model, all models in one process.  ",
            f"Measured peaks: matmul {peaks['fp32']:.0f} GFLOP/s fp32, {peaks['bf16']:.0f} GFLOP/s bf16; copy "
            f"bandwidth {peaks['bandwidth']:.1f} GB/s; ridge point {peaks['fp32'] / peaks['bandwidth']:.0f} "
            "FLOP/byte (fp32).  ",
            f"Command: `python benchmarks/speed.py {' '.join(sys.argv[1:] if argv is None else argv)}`", "",
            "Ratios are train samples/s over the DNN's in the same round, median (min-max) over rounds; "
            "`vs DNN eager` divides by the fp32 eager DNN. Bytes, ops and FLOP/byte are those of the "
            "eager step of the row's precision. Roofline share: (FLOPs / matmul speed + bytes / "
            "bandwidth) / measured step time. First step: the first training step's seconds, "
            "compilation included.", "",
            "| target | family | width | mode | non-emb params | train samples/s | CPU ms / 1k samples "
            "| vs DNN same mode | vs DNN eager | GFLOP / step (fwd+bwd) | KB moved / sample | ops / step "
            "| FLOP/byte | roofline share | first step s |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]


def report_row(entry, by_key, traffic, peaks, compile_s, batch_size):
    from fuxictr_ssr.models.checked_model import count_parameters
    same = by_key[entry.target, "DNN", entry.mode]
    eager = by_key[entry.target, "DNN", "eager"]
    flops, moved, ops = traffic[entry.target, entry.family, precision_of(entry)]
    step_s = statistics.median(entry.wall)
    cpu_ms = [1e6 * c / batch_size for c in entry.cpu]
    return (f"| {entry.target:,} | {entry.family} | {entry.width} | {entry.mode} "
            f"| {count_parameters(entry.model)[1]:,} | {batch_size / step_s:,.0f} | {statistics.median(cpu_ms):.1f} "
            f"| {spread([d / w for w, d in zip(entry.wall, same.wall)])} "
            f"| {spread([d / w for w, d in zip(entry.wall, eager.wall)])} "
            f"| {flops / 1e9:.1f} | {moved / batch_size / 1e3:,.0f} | {ops} | {flops / moved:.1f} "
            f"| {roofline_share(entry, traffic, peaks):.0%} | {compile_s[entry.key]:.1f} |")


def precision_of(entry):
    return "bf16" if "bf16" in entry.mode else "fp32"


def roofline_share(entry, traffic, peaks):
    """The two-term roofline time of the row's step over its measured (median) step time."""
    precision = precision_of(entry)
    flops, moved, _ = traffic[entry.target, entry.family, precision]
    return (flops / (peaks[precision] * 1e9) + moved / (peaks["bandwidth"] * 1e9)) / statistics.median(entry.wall)


def targets_section(by_key, targets, traffic, peaks, batch_size):
    """Each target met or missed by how much, with the figures that say why: the row's roofline
    share and its bytes moved per sample against the DNN's."""
    lines = ["", "Targets (train samples/s ratio to the DNN, median over rounds):", ""]
    for target, (family, mode, against, goal) in itertools.product(targets, TARGETS):
        entry, dnn = by_key.get((target, family, mode)), by_key.get((target, "DNN", against))
        if entry is None or dnn is None:
            continue
        ratio = statistics.median(d / w for w, d in zip(entry.wall, dnn.wall))
        verdict = "met" if ratio >= goal else f"missed by {goal - ratio:.2f}"
        moved = traffic[target, family, precision_of(entry)][1] / batch_size / 1e3
        dnn_moved = traffic[target, "DNN", precision_of(dnn)][1] / batch_size / 1e3
        lines.append(f"- {target:,} params, {family} {mode} vs the DNN {against}: {ratio:.2f} "
                     f"(target >= {goal:.2f}: {verdict}); roofline share {roofline_share(entry, traffic, peaks):.0%} "
                     f"against the DNN's {roofline_share(dnn, traffic, peaks):.0%}, {moved:,.0f} KB moved / sample "
                     f"against {dnn_moved:,.0f}")
    return lines


if __name__ == "__main__":
    main()
