"""fuxictr-ssr: SSR and its rivals as FuxiCTR models, and the tools to benchmark them.

Commands: run (one experiment, as FuxiCTR's run_expid.py), demo, bench (a leaderboard over seeds),
scale (a family over parameter counts), tune (a FuxiCTR tuner config), sparsity (a checkpoint's
report), predict (score raw rows with a checkpoint), export (ONNX / TorchScript for serving), models
(the registry), data (synth, synth-criteo, prepare). Also ``python -m fuxictr_ssr``.
"""
import argparse
import errno
import os
import sys
import time

from .config import BARS_SEEDS


def add_run_arguments(parser):
    """The flags of FuxiCTR's run_expid.py, with the same defaults."""
    parser.add_argument("--config", default="./config/", help="FuxiCTR config folder")
    parser.add_argument("--expid", required=True, help="experiment id in model_config.yaml")
    parser.add_argument("--gpu", type=int, default=-1, help="CUDA device index; -1 = CPU")


RUN_OUTPUTS = [("result_csv", "--result-csv", False), ("result_json", "--result-json", False),
               ("model_root", "--model-root", True)]


def add_run_options(parser):
    """Options of ``fuxictr-ssr run`` beyond FuxiCTR's flags."""
    parser.add_argument("--seed", type=int, help="replace the config's seed")
    parser.add_argument("--data-root", help="relocate the dataset: replaces data_root and that prefix of the data paths")
    parser.add_argument("--model-root", help="replace the config's model_root (logs and checkpoints)")
    parser.add_argument("--result-csv", help="append FuxiCTR's result line here (default <config folder name>.csv)")
    parser.add_argument("--result-json", help="also write the measured results to this JSON file")
    parser.add_argument("--max-epochs", type=int, help="cap the config's epochs (early stopping still applies)")
    parser.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's, i.e. the cores)")


def command_run(args):
    from .runner import run_experiment
    from .safe_files import write_json
    overrides = {}
    if getattr(args, "seed", None) is not None:
        overrides["seed"] = args.seed
    if getattr(args, "model_root", None):
        overrides["model_root"] = args.model_root
    result = run_experiment(args.config, args.expid, gpu=args.gpu, overrides=overrides,
                            data_root=getattr(args, "data_root", None),
                            result_csv=getattr(args, "result_csv", None),
                            max_epochs=getattr(args, "max_epochs", None), threads=getattr(args, "threads", None))
    if result is None:  # a data-parallel rank other than 0
        return
    if getattr(args, "result_json", None):
        write_json(args.result_json, result)
    print(f"{result['expid']}: test {result['test']} | valid {result['valid']} | "
          f"non-embedding params {result['params_non_embedding']:,}")


def command_demo(args):
    from .demo import describe, format_table, oracle_test_auc, run_demo, score_test_split
    print(f"Demo data: {describe()}", flush=True)
    start = time.perf_counter()
    results = run_demo(os.path.abspath(args.work_dir))
    print("\n" + format_table(results, oracle_test_auc()))
    print("\n" + score_test_split(os.path.abspath(args.work_dir), results[0]))
    print(f"\nTotal {time.perf_counter() - start:.0f} s; logs, checkpoints and results.csv in {args.work_dir}")


def parse_seeds(text):
    try:
        seeds = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ValueError(f"--seeds: expected comma-separated integers, got {text!r}") from None
    if not seeds:
        raise ValueError("--seeds: expected at least one seed")
    return seeds


def parse_gpu_list(text):
    from .scheduler import parse_gpus
    return parse_gpus(text) if text is not None else None


def add_concurrency_options(parser):
    """``--gpus`` and ``--jobs`` of ``bench`` and ``tune``."""
    parser.add_argument("--gpus", help="run side by side, one run per device at a time (per --nproc devices), "
                        "e.g. 0,1,2,3")
    parser.add_argument("--jobs", type=int, help="CPU runs side by side, the cores shared between them "
                        "(--threads per run defaults to cores / jobs)")
    parser.add_argument("--ray", metavar="ADDRESS", help="run each run as a task of this Ray cluster: host:port, "
                        "'auto' (started here with 'ray start'), 'local' (a new one); GPUs with --gpu 0")


def command_bench(args):
    from .bench import run_benchmark
    from .experiment import default_results_folder
    from .records import invoked_command
    seeds = parse_seeds(args.seeds)
    if len(args.config) > 1 and not args.out:
        raise ValueError(f"--out: required with several --config folders ({', '.join(args.config)}): their rows "
                         "share one results folder and one leaderboard")
    out_dir = args.out or default_results_folder(args.config[0])
    command = invoked_command(args.argv)
    run_benchmark(args.config, seeds, out_dir, expids=args.expids, gpu=args.gpu,
                  data_root=args.data_root, command=command, report_only=args.report_only, nproc=args.nproc,
                  max_epochs=args.max_epochs, threads=args.threads, gpus=parse_gpu_list(args.gpus), jobs=args.jobs,
                  ray=args.ray)
    print(f"Results: {os.path.join(out_dir, 'results.csv')}, {os.path.join(out_dir, 'leaderboard.md')}")


def command_scale(args):
    from .experiment import default_results_folder
    from .records import invoked_command
    from .scaling import run_scaling
    seeds = parse_seeds(args.seeds)
    try:
        targets = [int(float(size)) for size in args.sizes.split(",")]
    except ValueError:
        raise ValueError(f"--sizes: expected comma-separated parameter counts like 1e5,1e6, got {args.sizes!r}") from None
    out_dir = args.out or default_results_folder(args.config, under=os.path.join("results", "scaling"))
    table = run_scaling(args.config, args.family, targets, seeds, out_dir, gpu=args.gpu,
                        data_root=args.data_root,
                        command=invoked_command(args.argv),
                        max_epochs=args.max_epochs, report_only=args.report_only)
    for row in table:
        print(f"{row['expid']:<14} {row['params_non_embedding']:>12,d}  test AUC {row['test_AUC_mean']:.6f} "
              f"± {row['test_AUC_std']:.6f} ({row['seeds']} seeds)")
    print(f"Results: {os.path.join(out_dir, 'scaling.csv')}, {os.path.join(out_dir, 'scaling.png')}")


def command_tune(args):
    from .records import invoked_command
    from .tune import run_tune
    seeds = parse_seeds(args.seeds)
    run_tune(args.config, out_dir=args.out, gpu=args.gpu, max_trials=args.max_trials, sampler=args.sampler,
             seeds=seeds, search_seed=args.search_seed, search_only=args.search_only, final_out=args.final_out,
             data_root=args.data_root, max_epochs=args.max_epochs, command=invoked_command(args.argv, leave_out=()),
             gpus=parse_gpu_list(args.gpus), jobs=args.jobs, ray=args.ray)


def command_prepare(args):
    from .data.bars import find_dataset
    from .data.prepare import check_published_md5, prepare
    paths = prepare(args.dataset, args.source, args.out, verify_md5=not args.no_verify, copy=args.copy)
    print("\n".join(paths.values()))
    note = None if args.no_verify else check_published_md5(find_dataset(args.dataset), paths)
    if note:
        print(note)


def command_sparsity(args):
    from .sparsity import sparsity_report
    out_dir = args.out or os.path.join(os.path.dirname(os.path.abspath(args.checkpoint)), f"sparsity_{args.expid}")
    rows, ics_rows = sparsity_report(args.config, args.expid, args.checkpoint, out_dir,
                                     data_root=args.data_root, gpu=args.gpu)
    print(open(os.path.join(out_dir, "sparsity.md")).read())
    if ics_rows:
        print(open(os.path.join(out_dir, "ics.md")).read())
    print(f"Written to {out_dir}")


def command_predict(args):
    from .predict import predict
    keep = [name.strip() for name in args.keep_columns.split(",") if name.strip()] if args.keep_columns else []
    summary = predict(args.config, args.expid, args.data, args.out, checkpoint=args.checkpoint, keep_columns=keep,
                      batch_size=args.batch_size, gpu=args.gpu, data_root=args.data_root, evaluate=args.evaluate)
    metrics = "".join(f", {name} {value:.6f}" for name, value in summary.get("metrics", {}).items())
    print(f"Scored {summary['rows']:,} rows with {summary['checkpoint']} into {summary['out']} "
          f"({summary['seconds']:.1f} s{metrics})")


def command_export(args):
    from .export import export_model
    done = export_model(args.config, args.expid, args.format, out=args.out, checkpoint=args.checkpoint,
                        data_root=args.data_root)
    graph, serving, vocabulary = done["paths"]
    print(f"Exported {args.expid} as {args.format}: {graph} (largest difference from the eager model on random "
          f"inputs {done['max_abs_diff']:.2g}); serving inputs in {serving}, vocabularies in {vocabulary}")


def command_doctor(args):
    from .doctor import report, run_checks
    checks = run_checks()
    text = report(checks)
    print(text, end="")
    if args.out:
        with open(args.out, "w") as handle:
            handle.write(text)
    if any(check.status == "problem" for check in checks):
        raise SystemExit(1)


def command_models(args):
    from .registry import list_models
    print("\n".join(list_models()))


def command_synth(args):
    from .data import SyntheticSpec, write_splits
    spec = SyntheticSpec(num_rows=args.rows, num_fields=args.fields, num_informative=args.informative,
                         num_interactions=args.interactions, vocab_size=args.vocab, seed=args.seed)
    paths = write_splits(spec, args.out)
    print("\n".join(paths.values()))


def command_synth_criteo_raw(args):
    from .data.criteo_raw import RawCriteoSpec, write_raw_criteo
    print(write_raw_criteo(RawCriteoSpec(num_rows=args.rows, seed=args.seed), args.out))


def row_count(text):
    """A row count written as an integer or in float notation (``1e6``, ``45840617``)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a row count such as 1000000 or 1e6, got {text!r}") from None
    if value != int(value) or value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number of rows, got {text!r}")
    return int(value)


def command_synth_criteo(args):
    from .data.criteo_like import CriteoLikeSpec, write_splits
    paths = write_splits(CriteoLikeSpec(num_rows=args.rows, seed=args.seed), args.out)
    print("\n".join(paths.values()))


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Every option's help ends with its default, unless it has none or the help already says it."""

    def _get_help_string(self, action):
        text = action.help or ""
        if action.option_strings and action.default not in (None, False, argparse.SUPPRESS) \
                and "default" not in text:
            text += " (default: %(default)s)"
        return text


def version_text():
    from importlib.metadata import PackageNotFoundError, version
    from . import __version__
    try:
        fuxictr_version = version("fuxictr")
    except PackageNotFoundError:
        fuxictr_version = "not installed"
    return f"fuxictr-ssr {__version__} (fuxictr {fuxictr_version})"


def build_parser():
    parser = argparse.ArgumentParser(prog="fuxictr-ssr", description=__doc__, formatter_class=HelpFormatter)
    parser.add_argument("--version", action="version", version=version_text())
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_subcommand_parser)

    run = commands.add_parser("run", help="train and evaluate one experiment of a config folder")
    add_run_arguments(run)
    add_run_options(run)
    run.set_defaults(handler=command_run, outputs=RUN_OUTPUTS)

    demo = commands.add_parser("demo", help="SSR-D, SSR-S and a DNN on generated data (CPU, minutes)")
    demo.add_argument("--work-dir", default="./ssr_demo", help="where data, logs and checkpoints go")
    demo.set_defaults(handler=command_demo, outputs=[("work_dir", "--work-dir", True)])

    bench = commands.add_parser("bench", help="every experiment x seed of a benchmark folder, resumable")
    bench.add_argument("--config", required=True, action="append",
                       help="benchmark folder, e.g. benchmark_configs/Frappe_x1; repeat it to run several folders' "
                            "experiments into one leaderboard (then --out is required)")
    bench.add_argument("--expids", nargs="+", help="experiments to run (default: all in the folder)")
    bench.add_argument("--seeds", default="2021",
                       help=f"comma-separated seeds (BARS: {','.join(map(str, BARS_SEEDS))})")
    bench.add_argument("--gpu", type=int, default=-1, help="CUDA device index of every run; -1 = CPU")
    bench.add_argument("--data-root", help="where the dataset's files are (replaces data_root)")
    bench.add_argument("--out", help="results folder (default: results/ plus the config folder's path, benchmark_configs/ "
                       "and model_zoo/ left out: benchmark_configs/Frappe_x1 -> results/Frappe_x1)")
    bench.add_argument("--report-only", action="store_true", help="rewrite leaderboard.md from results.csv; run nothing")
    bench.add_argument("--max-epochs", type=int,
                       help="cap every experiment's epochs (early stopping still applies; part of each row's hash)")
    bench.add_argument("--threads", type=int,
                       help="torch threads of every run, recorded in each row (default: this machine's cores)")
    bench.add_argument("--nproc", type=int, default=1,
                       help="data-parallel processes per run (torchrun on this machine; one GPU each, or CPU)")
    add_concurrency_options(bench)
    bench.set_defaults(handler=command_bench, outputs=[("out", "--out", True)])

    scale = commands.add_parser("scale", help="a model family over a ladder of parameter counts")
    scale.add_argument("--config", required=True, help="benchmark folder giving the dataset and base settings")
    scale.add_argument("--family", nargs="+", required=True, help="DNN, DCNv2, SSR_S and/or SSR_D")
    scale.add_argument("--sizes", required=True, help="non-embedding parameter targets, e.g. 1e5,3e5,1e6")
    scale.add_argument("--seeds", default="2021", help="comma-separated seeds of every size")
    scale.add_argument("--gpu", type=int, default=-1, help="CUDA device index of every run; -1 = CPU")
    scale.add_argument("--data-root", help="where the dataset's files are (replaces data_root)")
    scale.add_argument("--out", help="default: results/scaling/ plus the config folder's path (as bench's --out)")
    scale.add_argument("--max-epochs", type=int, help="cap every size's epochs (early stopping still applies)")
    scale.add_argument("--report-only", action="store_true", help="write scaling.csv/png from the runs done; run nothing")
    scale.set_defaults(handler=command_scale, outputs=[("out", "--out", True)])

    tune = commands.add_parser("tune", help="search a FuxiCTR tuner config, choose on validation, rerun the best")
    tune.add_argument("--config", required=True, help="FuxiCTR tuner config (base_config, base_expid, tuner_space)")
    tune.add_argument("--gpu", type=int, default=-1, help="CUDA device index of every trial; -1 = CPU")
    tune.add_argument("--max-trials", type=int, help="budget: a seeded random subset of the grid (default: all of it)")
    tune.add_argument("--sampler", default="grid", help="grid or tpe (Optuna; pip install '.[tune]')")
    tune.add_argument("--seeds", default=",".join(map(str, BARS_SEEDS)),
                      help="seeds the chosen point reruns with (default BARS's five)")
    tune.add_argument("--search-seed", type=int, help="the trials' seed (default: the tuner config's seed)")
    tune.add_argument("--search-only", action="store_true", help="stop after choosing; no final reruns")
    tune.add_argument("--out", help="default: the tuner file's path without .yaml (as FuxiCTR)")
    tune.add_argument("--final-out", help="results folder of the final reruns (default <out>/final)")
    tune.add_argument("--data-root", help="where the dataset's files are (replaces data_root)")
    tune.add_argument("--max-epochs", type=int, help="cap every run's epochs (early stopping still applies)")
    add_concurrency_options(tune)
    tune.set_defaults(handler=command_tune, outputs=[("out", "--out", True), ("final_out", "--final-out", True)])

    sparsity = commands.add_parser("sparsity", help="implicit-sparsity report of a trained checkpoint")
    sparsity.add_argument("--checkpoint", required=True, help="the .model file a run of --expid saved")
    add_run_arguments(sparsity)
    sparsity.add_argument("--data-root", help="where the dataset is (replaces data_root)")
    sparsity.add_argument("--out", help="output folder (default: next to the checkpoint)")
    sparsity.set_defaults(handler=command_sparsity, outputs=[("out", "--out", True)])

    predict = commands.add_parser("predict", help="score raw csv/parquet rows with a trained experiment's checkpoint")
    add_run_arguments(predict)
    predict.add_argument("--data", required=True, nargs="+", help="csv or parquet files with the dataset's feature "
                         "columns (label optional)")
    predict.add_argument("--checkpoint", help="the .model file (default: the run's, <model_root>/<dataset_id>/<expid>.model)")
    predict.add_argument("--out", default="scores.csv", help="scores file, .csv or .parquet: a score column plus the kept ones")
    predict.add_argument("--keep-columns", help="comma-separated input columns copied beside the score (e.g. an id)")
    predict.add_argument("--batch-size", type=int, help="rows per forward (default: the experiment's batch_size)")
    predict.add_argument("--data-root", help="the data root the model was trained with (replaces data_root)")
    predict.add_argument("--evaluate", action="store_true",
                         help="also print the experiment's metrics of the scores against the files' label column")
    predict.set_defaults(handler=command_predict, outputs=[("out", "--out", False)])

    export = commands.add_parser("export", help="a trained experiment as an ONNX or TorchScript graph for serving")
    add_run_arguments(export)
    export.add_argument("--format", required=True, help="onnx or torchscript")
    export.add_argument("--checkpoint", help="the .model file (default: the run's, <model_root>/<dataset_id>/<expid>.model)")
    export.add_argument("--out", help="the graph file (default: the checkpoint's path with .onnx or .torchscript.pt); "
                        "<graph>.serving.json and <graph>.vocab.json go beside it")
    export.add_argument("--data-root", help="the data root the model was trained with (replaces data_root)")
    export.set_defaults(handler=command_export, outputs=[("out", "--out", False)])

    doctor = commands.add_parser("doctor", help="versions, devices and known incompatibilities, each with its fix")
    doctor.add_argument("--out", help="also write the report to this file")
    doctor.set_defaults(handler=command_doctor, outputs=[("out", "--out", False)])

    models = commands.add_parser("models", help="list the registered models")
    models.set_defaults(handler=command_models)

    data = commands.add_parser("data", help="data tools")
    data_commands = data.add_subparsers(dest="data_command", required=True)
    synth = data_commands.add_parser("synth", help="write a synthetic CTR dataset (train/valid/test csv)")
    synth.add_argument("--out", required=True, help="folder for train/valid/test.csv")
    synth.add_argument("--rows", type=int, default=10000, help="rows over the three splits")
    synth.add_argument("--fields", type=int, default=20, help="categorical fields")
    synth.add_argument("--informative", type=int, default=4, help="fields that move the click probability")
    synth.add_argument("--interactions", type=int, default=3, help="pairwise field interactions in the true logit")
    synth.add_argument("--vocab", type=int, default=50, help="values per field")
    synth.add_argument("--seed", type=int, default=2026, help="generator seed")
    synth.set_defaults(handler=command_synth, outputs=[("out", "--out", True)])
    synth_criteo = data_commands.add_parser("synth-criteo", help="write a generated Criteo-shaped dataset")
    synth_criteo.add_argument("--out", required=True, help="folder for train/valid/test.csv")
    synth_criteo.add_argument("--rows", type=int, default=2_000_000, help="rows over the three splits")
    synth_criteo.add_argument("--seed", type=int, default=2026, help="generator seed")
    synth_criteo.set_defaults(handler=command_synth_criteo, outputs=[("out", "--out", True)])
    raw = data_commands.add_parser("synth-criteo-raw", help="write Criteo's raw Kaggle train.txt layout, generated")
    raw.add_argument("--out", required=True, help="the file to write, e.g. data/raw/train.txt")
    raw.add_argument("--rows", type=row_count, required=True, help="rows, up to 45840617 (the Kaggle file's)")
    raw.add_argument("--seed", type=int, default=2026, help="generator seed")
    raw.set_defaults(handler=command_synth_criteo_raw, outputs=[("out", "--out", False)])
    prepare = data_commands.add_parser("prepare", help="write the csvs a benchmark folder expects")
    prepare.add_argument("dataset", help="benchmark dataset, e.g. Frappe_x1, Criteo_x4_001")
    prepare.add_argument("--source", required=True, help="folder (or file) with the downloaded data")
    prepare.add_argument("--out", required=True, help="where train/valid/test.csv go")
    prepare.add_argument("--copy", action="store_true", help="copy BARS csvs instead of linking them")
    prepare.add_argument("--no-verify", action="store_true",
                         help="skip the md5 checks (of BARS x1 csvs; of the written x4 train csv)")
    prepare.set_defaults(handler=command_prepare, outputs=[("out", "--out", True)])
    return parser


def _subcommand_parser(**kwargs):
    kwargs.setdefault("formatter_class", HelpFormatter)
    if "help" in kwargs:
        kwargs.setdefault("description", kwargs["help"])
    return argparse.ArgumentParser(**kwargs)


def check_outputs(args):
    """Every location the command will write, checked before any work: a file's folder must exist
    or be makeable (it is made when the file is written), and nothing in the way may be a file."""
    from .safe_files import check_output_path
    for attribute, key, is_folder in getattr(args, "outputs", ()):
        if getattr(args, attribute, None):
            check_output_path(getattr(args, attribute), key, is_folder)


def handled(program, handler, args):
    """Run ``handler(args)``: a ``ValueError`` is one named line (exit 2), Ctrl-C one line saying
    that what finished is kept (exit 130), never a traceback."""
    try:
        check_outputs(args)
        handler(args)
    except ValueError as error:
        print(f"{program}: error: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        if error.errno != errno.ENOSPC:
            raise
        print(f"{program}: error: {error.filename or 'a file'}: the disk is full (no space left on device); "
              "results written before are kept", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\n{program}: interrupted; results written before the interrupt are kept (rerun the same command "
              "to resume a benchmark or a search)", file=sys.stderr)
        return 130
    return 0


def run_expid_main(argv=None):
    """Entry of a model_zoo folder's run_expid.py: FuxiCTR's flags and behaviour, plus ``--data-root``
    and ``--max-epochs`` as ``fuxictr-ssr run`` has them."""
    parser = argparse.ArgumentParser(prog="run_expid.py", description="Run one experiment of ./config/")
    add_run_arguments(parser)
    parser.add_argument("--data-root", help="relocate the dataset: replaces data_root and that prefix of the data paths")
    parser.add_argument("--max-epochs", type=int, help="cap the config's epochs (early stopping still applies)")
    return handled("run_expid.py", command_run, parser.parse_args(argv))


def main(argv=None):
    args = build_parser().parse_args(argv)
    args.argv = sys.argv[1:] if argv is None else list(argv)  # the command, as results record it
    return handled("fuxictr-ssr", args.handler, args)
