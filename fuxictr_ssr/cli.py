"""Command line: ``fuxictr-ssr run | demo | models | data synth`` (also ``python -m fuxictr_ssr``)."""
import argparse
import os
import sys
import time


def add_run_arguments(parser):
    """The flags of FuxiCTR's run_expid.py, with the same defaults."""
    parser.add_argument("--config", default="./config/", help="FuxiCTR config folder (default ./config/)")
    parser.add_argument("--expid", required=True, help="experiment id in model_config.yaml")
    parser.add_argument("--gpu", type=int, default=-1, help="CUDA device index; -1 = CPU")


def command_run(args):
    from .runner import run_experiment
    result = run_experiment(args.config, args.expid, gpu=args.gpu)
    print(f"{result['expid']}: test {result['test']} | valid {result['valid']} | "
          f"non-embedding params {result['params_non_embedding']:,}")


def command_demo(args):
    from .demo import describe, format_table, oracle_test_metrics, run_demo
    print(f"Demo data: {describe()}", flush=True)
    start = time.perf_counter()
    results = run_demo(os.path.abspath(args.work_dir))
    print("\n" + format_table(results, oracle_test_metrics()))
    print(f"\nTotal {time.perf_counter() - start:.0f} s; logs, checkpoints and results.csv in {args.work_dir}")


def command_models(args):
    from .registry import list_models
    print("\n".join(list_models()))


def command_synth(args):
    from .data import SyntheticSpec, write_splits
    spec = SyntheticSpec(num_rows=args.rows, num_fields=args.fields, num_informative=args.informative,
                         num_interactions=args.interactions, vocab_size=args.vocab, seed=args.seed)
    paths = write_splits(spec, args.out)
    print("\n".join(paths.values()))


def build_parser():
    parser = argparse.ArgumentParser(prog="fuxictr-ssr", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="train and evaluate one experiment of a config folder")
    add_run_arguments(run)
    run.set_defaults(handler=command_run)

    demo = commands.add_parser("demo", help="SSR-D, SSR-S and a DNN on generated data (CPU, minutes)")
    demo.add_argument("--work-dir", default="./ssr_demo", help="where data, logs and checkpoints go")
    demo.set_defaults(handler=command_demo)

    models = commands.add_parser("models", help="list the registered models")
    models.set_defaults(handler=command_models)

    data = commands.add_parser("data", help="data tools")
    data_commands = data.add_subparsers(dest="data_command", required=True)
    synth = data_commands.add_parser("synth", help="write a synthetic CTR dataset (train/valid/test csv)")
    synth.add_argument("--out", required=True)
    synth.add_argument("--rows", type=int, default=10000)
    synth.add_argument("--fields", type=int, default=20)
    synth.add_argument("--informative", type=int, default=4)
    synth.add_argument("--interactions", type=int, default=3)
    synth.add_argument("--vocab", type=int, default=50)
    synth.add_argument("--seed", type=int, default=2026)
    synth.set_defaults(handler=command_synth)
    return parser


def run_expid_main(argv=None):
    """Entry of a model_zoo folder's run_expid.py: FuxiCTR's flags, FuxiCTR's behaviour."""
    parser = argparse.ArgumentParser(prog="run_expid.py", description="Run one experiment of ./config/")
    add_run_arguments(parser)
    args = parser.parse_args(argv)
    try:
        command_run(args)
    except ValueError as error:
        print(f"run_expid.py: error: {error}", file=sys.stderr)
        return 2
    return 0


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        args.handler(args)
    except ValueError as error:
        print(f"fuxictr-ssr: error: {error}", file=sys.stderr)
        return 2
    return 0
