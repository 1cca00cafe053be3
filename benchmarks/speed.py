"""Speed, memory and FLOPs of DNN, DCNv2, SSR-S and SSR-D at matched non-embedding parameters.

    python benchmarks/speed.py --out results/speed.md            # full run (minutes)
    python benchmarks/speed.py --quick                            # smoke run (seconds)

For every family and parameter target the model is sized by searching one width knob, then timed
in a fresh process (so peak RSS is that configuration's alone): forward+backward training steps
and inference, median of several repetitions, at a fixed thread count. Also: FLOPs per sample
(torch's FlopCounterMode), GFLOP/s of the SSR layers against a plain torch.mm of the same FLOPs,
three implementations of the SSR-S filter+first fusion layer, and the ICS overhead in SSR-D.
"""
import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from fuxictr_ssr.scaling import width_for, with_width

FIELDS, EMBEDDING_DIM, VOCAB = 39, 16, 100   # a Criteo-shaped input: d_in = 624
FAMILIES = ("DNN", "DCNv2", "SSR_S", "SSR_D")


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


def family_params(family, width):
    return with_width(family, family_base(family), width)


def sized(family, target):
    """``(width, params)`` of the smallest ``family`` model with at least ``target`` parameters."""
    base = {**family_base(family), "embedding_dim": EMBEDDING_DIM, "embedding_norm": "none"}
    width = width_for(family, base, target, feature_map())
    return width, family_params(family, width)


def build(params):
    from fuxictr_ssr.registry import create_model
    return create_model({"embedding_dim": EMBEDDING_DIM, "embedding_norm": "none", **params}, feature_map())


def non_embedding(model):
    from fuxictr_ssr.models.checked_model import count_parameters
    return count_parameters(model)[1]


def batch(size, device):
    data = {f"f{i}": torch.randint(1, VOCAB, (size,), device=device) for i in range(FIELDS)}
    data["label"] = torch.randint(0, 2, (size,), device=device).float()
    return data


def median_seconds(step, repetitions, warmup, device):
    for _ in range(warmup):
        step()
    times = []
    for _ in range(repetitions):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def peak_memory_mb(device):
    """Peak GPU memory allocated, or this process's peak RSS (VmHWM: unlike ru_maxrss it does not
    carry the parent's peak over an exec)."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2 ** 20
    if os.path.exists("/proc/self/status"):
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def forward_flops(module, *inputs):
    with FlopCounterMode(display=False) as counter:
        module(*inputs)
    return counter.get_total_flops()


def measure_model(params, batch_size, repetitions, warmup, device):
    """Train (forward+backward) and inference throughput, FLOPs per sample, peak memory."""
    model = build(params).to(device)
    model.device = device
    data = batch(batch_size, device)
    labels = data["label"].view(-1, 1)

    def train_step():
        model.zero_grad(set_to_none=True)
        F.binary_cross_entropy(model(data)["y_pred"], labels).backward()

    @torch.no_grad()
    def inference_step():
        model(data)

    model.train()
    train_s = median_seconds(train_step, repetitions, warmup, device)
    matmul_share = matrix_product_share(train_step)
    model.eval()
    infer_s = median_seconds(inference_step, repetitions, warmup, device)
    with torch.no_grad():
        flops = forward_flops(model, batch(1, device))
    result = {"params": non_embedding(model), "train_samples_s": batch_size / train_s,
              "infer_samples_s": batch_size / infer_s, "mflops_per_sample": flops / 1e6}
    result["peak_mem_mb"] = peak_memory_mb(device)
    result["matmul_share"] = matmul_share
    if params["model"] == "SSR":
        result.update(ssr_layer_efficiency(model, batch_size, repetitions, warmup, device))
    return result


MATRIX_PRODUCTS = {"aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm"}


def matrix_product_share(step):
    """Share of a training step's operator time spent in matrix products (the rest is memory-bound
    elementwise, normalisation, gather and reduction work); GPU kernel time on CUDA."""
    from torch.profiler import ProfilerActivity, profile
    cuda = torch.cuda.is_available()
    with profile(activities=[ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])) as profiler:
        for _ in range(2):
            step()

    def own_time(event):
        return getattr(event, "self_device_time_total", 0) if cuda else event.self_cpu_time_total

    events = [e for e in profiler.key_averages() if e.key.startswith("aten::")]
    total = sum(own_time(e) for e in events)
    return sum(own_time(e) for e in events if e.key in MATRIX_PRODUCTS) / total if total else float("nan")


def ssr_layer_efficiency(model, batch_size, repetitions, warmup, device):
    """GFLOP/s of the SSR layer stack (forward) against torch.mm of the same FLOPs."""
    x = torch.randn(batch_size, FIELDS * EMBEDDING_DIM, device=device)
    layers = model.ssr_layers.eval()
    flops = forward_flops(layers, x)
    with torch.no_grad():
        layer_s = median_seconds(lambda: layers(x), repetitions, warmup, device)
    side = max(1, int((flops / (2 * batch_size)) ** 0.5))
    a, b = torch.randn(batch_size, side, device=device), torch.randn(side, side, device=device)
    mm_s = median_seconds(lambda: torch.mm(a, b), repetitions, warmup, device)
    return {"ssr_gflops_s": flops / layer_s / 1e9, "mm_gflops_s": 2 * batch_size * side * side / mm_s / 1e9}


def filter_implementations(batch_size, views, view_dim, repetitions, warmup, device):
    """SSR-S filter + first per-view dense layer, forward+backward, three ways."""
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

    return {name: batch_size / median_seconds(step, repetitions, warmup, device)
            for name, step in (("batched gather + bmm", batched), ("per-view loop", per_view_loop),
                               ("masked dense matmul", masked_dense))}


def run_child(args):
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if args.child_filter:
        views, view_dim = args.child_filter
        result = filter_implementations(args.batch_size, views, view_dim, args.repetitions, args.warmup, device)
    else:
        result = measure_model(json.loads(args.child_model), args.batch_size, args.repetitions, args.warmup, device)
    print(json.dumps(result))


def in_child(args, *extra):
    command = [sys.executable, os.path.abspath(__file__), "--threads", str(args.threads), "--device", args.device,
               "--batch-size", str(args.batch_size), "--repetitions", str(args.repetitions),
               "--warmup", str(args.warmup), *extra]
    completed = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(completed.stdout.strip().splitlines()[-1])


def machine(args):
    from fuxictr_ssr.bench import cpu_name
    gpu = torch.cuda.get_device_name(0) if args.device.startswith("cuda") else "none"
    return (f"{cpu_name()}; {os.cpu_count()} cores, {args.threads} torch threads; GPU: {gpu}; "
            f"torch {torch.__version__}, Python {platform.python_version()}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--targets", default="1e6,4e6,16e6", help="non-embedding parameter targets")
    parser.add_argument("--batch-size", type=int, default=4096)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repetitions", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, one repetition (a smoke run)")
    parser.add_argument("--out", help="also write the markdown report here")
    parser.add_argument("--child-model", help=argparse.SUPPRESS)
    parser.add_argument("--child-filter", type=int, nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child_model or args.child_filter:
        return run_child(args)
    if args.quick:
        args.targets, args.batch_size, args.repetitions, args.warmup = "3e4", 256, 1, 1

    targets = [int(float(t)) for t in args.targets.split(",")]
    lines = ["# Speed and memory: DNN, DCNv2, SSR-S, SSR-D", "",
             f"Machine: {machine(args)}.  ",
             f"Input: {FIELDS} fields x embedding {EMBEDDING_DIM} (d_in = {FIELDS * EMBEDDING_DIM}); batch {args.batch_size}; "
             f"median of {args.repetitions} repetitions after {args.warmup} warm-up; each configuration in its own process.  ",
             f"Command: `python benchmarks/speed.py {' '.join(sys.argv[1:] if argv is None else argv)}`", "",
             "| target | family | width | non-emb params | MFLOPs/sample (fwd) | train samples/s | infer samples/s "
             "| matmul share of train step | peak MB | SSR layers GFLOP/s | torch.mm GFLOP/s |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for target in targets:
        for family in FAMILIES:
            width, params = sized(family, target)
            r = in_child(args, "--child-model", json.dumps(params))
            ssr = (f"{r['ssr_gflops_s']:.1f} | {r['mm_gflops_s']:.1f}" if "ssr_gflops_s" in r else "- | -")
            lines.append(f"| {target:,} | {family} | {width} | {r['params']:,} | {r['mflops_per_sample']:.2f} "
                         f"| {r['train_samples_s']:,.0f} | {r['infer_samples_s']:,.0f} | {r['matmul_share']:.0%} "
                         f"| {r['peak_mem_mb']:.0f} | {ssr} |")
            print(lines[-1], flush=True)

    shapes = [(16, 32)] if args.quick else [(16, 256), (64, 64), (256, 16)]
    lines += ["", "SSR-S filter + first fusion layer, forward+backward, samples/s (the same weights three ways):", "",
              "| views x width | batched gather + bmm | per-view loop | masked dense matmul |", "|---|---|---|---|"]
    for views, view_dim in shapes:
        rates = in_child(args, "--child-filter", str(views), str(view_dim))
        lines.append(f"| {views} x {view_dim} | " + " | ".join(f"{rate:,.0f}" for rate in rates.values()) + " |")

    width, params = sized("SSR_D", targets[-1])
    with_ics = in_child(args, "--child-model", json.dumps(params))
    without = in_child(args, "--child-model", json.dumps({**params, "ics_iterations": 0}))
    overhead = with_ics["train_samples_s"] and (without["train_samples_s"] / with_ics["train_samples_s"] - 1)
    lines += ["", f"ICS overhead (SSR-D at width {width}, T=5 vs T=0, training step): "
                  f"{with_ics['train_samples_s']:,.0f} vs {without['train_samples_s']:,.0f} samples/s, "
                  f"{overhead:+.1%} time per step."]
    report = "\n".join(lines) + "\n"
    print(report)
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w") as handle:
            handle.write(report)


if __name__ == "__main__":
    main()
