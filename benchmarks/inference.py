"""Inference speed of each model at its benchmark size, in four runtimes: eager torch,
``torch.compile``, TorchScript and onnxruntime.

    python benchmarks/inference.py --out results/inference.md     # the committed run
    python benchmarks/inference.py --quick                         # smoke run

Each experiment of a benchmark folder (default ``benchmark_configs/Criteo_x1``: 13 numeric and
26 categorical inputs) is built at its config's size over that dataset's feature map (100 ids per
table: a lookup costs the same in a small table), with its weights moved off their initial values,
and wrapped as a serving graph (:class:`fuxictr_ssr.models.serving.NamedInputModel`, one input per
feature). The graph runs as: ``eager`` (``torch.inference_mode``), ``compiled`` (``torch.compile``
with dynamic batch), ``torchscript`` (``torch.jit.trace``) and ``onnxruntime`` (the file ``export``
writes, CPU provider, the same thread count). Each runtime's output is checked against eager before
timing. Timing runs in interleaved rounds in one process (every (model, runtime, batch size) once
per round, the order rotating), as ``speed.py`` does: samples/s at each batch size is the median
over rounds, the batch-1 latency percentiles pool every call of every round, and the speed-up over
eager is taken within each round.
"""
import argparse
import os
import platform
import statistics
import sys
import tempfile
import time

import numpy as np
import torch

from fuxictr_ssr.export import to_onnx, to_torchscript
from fuxictr_ssr.models.serving import NamedInputModel, example_inputs
from report import emit

RUNTIMES = ("eager", "compiled", "torchscript", "onnxruntime")
DEFAULT_EXPIDS = ("DNN_criteo_x1", "DeepFM_criteo_x1", "DCNv2_criteo_x1", "SSR_D_criteo_x1", "SSR_S_criteo_x1",
                  "RankMixer_criteo_x1", "WuKong_criteo_x1")


def build(config_dir, expid, vocab_size):
    """``(graph module, feature map, non-embedding params)`` of ``expid`` at its config's size."""
    from fuxictr_ssr.data.dataset import feature_map_from_config
    from fuxictr_ssr.experiment import resolve
    from fuxictr_ssr.models.checked_model import count_parameters
    from fuxictr_ssr.registry import create_model
    params = {**resolve(config_dir, expid), "gpu": -1, "compile": False, "precision": "fp32"}
    feature_map = feature_map_from_config(params, vocab_size=vocab_size)
    torch.manual_seed(0)
    model = create_model(params, feature_map)
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():  # trained-looking weights: no path of the graph constant
        for param in model.parameters():
            param.add_(torch.randn(param.shape, generator=generator) * 0.05)
    return NamedInputModel(model.eval(), feature_map).eval(), feature_map, count_parameters(model)[1]


def runners(module, feature_map, folder, threads):
    """``{runtime: callable(inputs) -> numpy scores}`` of one model."""
    import onnxruntime
    compiled = torch.compile(module, dynamic=True)
    script_path, onnx_path = os.path.join(folder, "model.pt"), os.path.join(folder, "model.onnx")
    to_torchscript(module, feature_map, script_path)
    to_onnx(module, feature_map, onnx_path)
    script = torch.jit.load(script_path)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    session = onnxruntime.InferenceSession(onnx_path, options, providers=["CPUExecutionProvider"])
    names = module.names

    def torch_runner(graph):
        def run(inputs):
            with torch.inference_mode():
                return graph(*inputs).numpy()
        return run

    def onnx_runner(arrays):
        return session.run(None, arrays)[0]

    return {"eager": torch_runner(module), "compiled": torch_runner(compiled), "torchscript": torch_runner(script),
            "onnxruntime": onnx_runner}, names


def timed_calls(call, calls):
    """Seconds of each of ``calls`` calls of ``call()``."""
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return times


class Case:
    """One model: its runners, the inputs per batch size (tensors, and numpy dicts for onnxruntime)
    and the measured times."""

    def __init__(self, expid, module, feature_map, params, folder, threads, batch_sizes):
        self.expid, self.params = expid, params
        self.run, names = runners(module, feature_map, folder, threads)
        self.inputs = {}
        for size in batch_sizes:
            tensors = example_inputs(feature_map, size, seed=size)
            self.inputs[size] = {"torch": tensors, "numpy": {n: t.numpy() for n, t in zip(names, tensors)}}
        self.times = {(runtime, size): [] for runtime in RUNTIMES for size in batch_sizes}

    def call(self, runtime, size):
        return self.run[runtime](self.inputs[size]["numpy" if runtime == "onnxruntime" else "torch"])

    def check(self, tolerance=1e-5):
        """Every runtime's scores equal eager's (warms every runtime and batch size up too)."""
        for size in self.inputs:
            eager = self.call("eager", size)
            for runtime in RUNTIMES[1:]:
                difference = float(np.abs(self.call(runtime, size) - eager).max())
                if difference > tolerance:
                    raise SystemExit(f"{self.expid}: {runtime} differs from eager by {difference:.3g} at batch {size}")

    def measure(self, runtime, size, calls):
        self.times[runtime, size].append(timed_calls(lambda: self.call(runtime, size), calls))


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="benchmark_configs/Criteo_x1", help="benchmark folder of the models")
    parser.add_argument("--expids", default=",".join(DEFAULT_EXPIDS))
    parser.add_argument("--batch-sizes", default="1,256,4096")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=5, help="interleaved timing rounds")
    parser.add_argument("--latency-calls", type=int, default=200, help="batch-1 calls per model, runtime and round")
    parser.add_argument("--seconds", type=float, default=0.5, help="least time per timed batch in a round")
    parser.add_argument("--vocab-size", type=int, default=100, help="ids per table")
    parser.add_argument("--quick", action="store_true", help="two models, two rounds, few calls (a smoke run)")
    parser.add_argument("--out", help="also write the markdown report here")
    args = parser.parse_args(argv)
    args.expids = args.expids.split(",")
    args.batch_sizes = [int(size) for size in args.batch_sizes.split(",")]
    if 1 not in args.batch_sizes:
        parser.error("--batch-sizes must include 1 (the latency percentiles are at batch 1)")
    if args.quick:
        args.expids, args.batch_sizes = args.expids[:2], [1, 64]
        args.rounds, args.latency_calls, args.seconds = 2, 20, 0.05
    return args


def calls_for(case, runtime, size, seconds, latency_calls):
    """Calls per round: ``latency_calls`` at batch 1, else enough for ``seconds`` (from one call)."""
    if size == 1:
        return latency_calls
    start = time.perf_counter()
    case.call(runtime, size)
    return max(2, int(seconds / max(time.perf_counter() - start, 1e-6)))


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    import torch._dynamo.config as dynamo
    dynamo.recompile_limit = 64  # several compiled models share NamedInputModel.forward's code
    cases = []
    with tempfile.TemporaryDirectory() as folder:
        for expid in args.expids:
            module, feature_map, params = build(args.config, expid, args.vocab_size)
            subfolder = os.path.join(folder, expid)
            os.makedirs(subfolder)
            start = time.perf_counter()
            case = Case(expid, module, feature_map, params, subfolder, args.threads, args.batch_sizes)
            case.check()
            print(f"{expid}: {params:,} non-embedding params, built, exported, compiled and checked in "
                  f"{time.perf_counter() - start:.0f} s", flush=True)
            cases.append(case)
        plan = [(case, runtime, size) for case in cases for runtime in RUNTIMES for size in args.batch_sizes]
        calls = {(c.expid, r, s): calls_for(c, r, s, args.seconds, args.latency_calls) for c, r, s in plan}
        for round_index in range(args.rounds):
            shift = round_index * 7 % len(plan)
            for case, runtime, size in plan[shift:] + plan[:shift]:
                case.measure(runtime, size, calls[case.expid, runtime, size])
            print(f"round {round_index + 1}/{args.rounds} done", flush=True)
    emit(report_lines(cases, args, argv), args.out)


def throughput(case, runtime, size):
    """Samples/s per round (median call time of the round)."""
    return [size / statistics.median(times) for times in case.times[runtime, size]]


def report_lines(cases, args, argv):
    from fuxictr_ssr.records import cpu_name
    sizes = args.batch_sizes
    lines = ["# Inference speed by runtime", "",
             f"Command: `python benchmarks/inference.py {' '.join(argv if argv is not None else sys.argv[1:])}`  ",
             f"Machine: {cpu_name()}; {os.cpu_count()} cores, {args.threads} thread(s) for torch and onnxruntime; "
             f"no GPU; torch {torch.__version__}, onnxruntime {__import__('onnxruntime').__version__}, "
             f"Python {platform.python_version()}  ",
             f"Models: {args.config} at their config sizes, {args.vocab_size} ids per table; {args.rounds} interleaved "
             f"rounds; samples/s is the median over rounds of each round's median call; batch-1 latency pools "
             f"{args.latency_calls} calls per round.", "",
             "| model | non-emb. params | runtime | " + " | ".join(f"samples/s @{s}" for s in sizes)
             + " | p50 ms @1 | p99 ms @1 | x eager @1 (min / median / max over rounds) |",
             "|---|---|---|" + "---|" * len(sizes) + "---|---|---|"]
    for case in cases:
        eager = throughput(case, "eager", 1)
        for runtime in RUNTIMES:
            pooled = np.array([t for times in case.times[runtime, 1] for t in times]) * 1e3
            ratios = [a / b for a, b in zip(throughput(case, runtime, 1), eager)]
            rates = " | ".join(f"{statistics.median(throughput(case, runtime, s)):,.0f}" for s in sizes)
            lines.append(f"| {case.expid} | {case.params:,} | {runtime} | {rates} | {np.percentile(pooled, 50):.3f} | "
                         f"{np.percentile(pooled, 99):.3f} | {min(ratios):.2f} / {statistics.median(ratios):.2f} / "
                         f"{max(ratios):.2f} |")
    lines += ["", "Target: onnxruntime at batch 1 at >= 2x eager torch's throughput for every model:", ""]
    for case in cases:
        ratio = statistics.median(a / b for a, b in zip(throughput(case, "onnxruntime", 1), throughput(case, "eager", 1)))
        lines.append(f"- {case.expid}: {ratio:.2f}x ({'met' if ratio >= 2 else 'not met'})")
    return lines


if __name__ == "__main__":
    main()
