"""``fuxictr-ssr export``: a trained experiment as an ONNX or TorchScript graph for serving, with
what a server needs to make its inputs, and a parity check of the written file.

The graph (:class:`~fuxictr_ssr.models.serving.NamedInputModel`) takes one named input per feature
with a dynamic batch dimension and returns the click probability ``[batch, 1]``; it is exported
from the fp32 eager model (``compile`` and ``precision`` are how a run executes, not what it
computes). Beside it go ``<graph>.serving.json`` (per input: type, dtype, shape, the raw column it
comes from, the fill value, and the vocabulary's OOV and padding ids, the sequence splitter and
length, or the numeric normaliser's constants) and ``<graph>.vocab.json`` (``{feature: {raw value:
id}}``). Before the files are moved into place the exported graph is run beside the eager model
on random inputs at two batch sizes; a difference above :data:`TOLERANCE` is an error.

ONNX uses torch's ``torch.export``-based exporter (``onnx`` and ``onnxscript``) and checks with
onnxruntime: ``pip install 'fuxictr-ssr[export]'``.
"""
import contextlib
import inspect
import io
import logging
import os
import warnings

import numpy as np
import torch

from .models.serving import NamedInputModel, example_inputs, serving_inputs
from .safe_files import check_output_path, write_json
from .trained import load_trained

FORMATS = {"onnx": ".onnx", "torchscript": ".torchscript.pt"}
TOLERANCE = 1e-5
CHECK_BATCH_SIZES = (3, 257)
OUTPUT_NAME = "probability"


def check_export_format(fmt):
    """Raise ``ValueError`` for an unknown format or a missing package, before any work."""
    if fmt not in FORMATS:
        raise ValueError(f"--format: expected one of {', '.join(FORMATS)}, got {fmt!r}")
    if fmt == "onnx":
        missing = [name for name in ("onnx", "onnxscript", "onnxruntime") if not _importable(name)]
        if missing:
            raise ValueError(f"--format onnx needs {', '.join(missing)} (torch's ONNX exporter and the parity check): "
                             "pip install 'fuxictr-ssr[export]'")
        if not has_onnx_exporter():
            raise ValueError(f"--format onnx needs torch's torch.export-based exporter (torch >= 2.6); this is torch "
                             f"{torch.__version__}: use --format torchscript or a newer torch")


def has_onnx_exporter():
    """Whether this torch's ``torch.onnx.export`` has the ``torch.export``-based path we use."""
    return "dynamo" in inspect.signature(torch.onnx.export).parameters


def _importable(name):
    import importlib.util
    return importlib.util.find_spec(name) is not None


def export_paths(out, checkpoint, fmt):
    """``(graph, graph.serving.json, graph.vocab.json)``, the graph at ``out`` or at the checkpoint's
    path with the format's suffix."""
    graph = out or os.path.splitext(checkpoint)[0] + FORMATS[fmt]
    return graph, graph + ".serving.json", graph + ".vocab.json"


def export_model(config_dir, expid, fmt, out=None, checkpoint=None, data_root=None):
    """Write the graph, its serving metadata and vocabulary; return ``{paths, max_abs_diff}``."""
    check_export_format(fmt)
    if out:
        check_output_path(out, "--out")
    trained = load_trained(config_dir, expid, checkpoint, data_root, gpu=-1,
                           overrides={"compile": False, "precision": "fp32"})
    paths = export_paths(out, trained.checkpoint, fmt)
    for path in paths:
        check_output_path(path, "--out")
    module = NamedInputModel(trained.model, trained.feature_map).eval()
    temporary = [path + ".tmp" for path in paths]
    os.makedirs(os.path.dirname(os.path.abspath(paths[0])), exist_ok=True)
    try:
        (to_onnx if fmt == "onnx" else to_torchscript)(module, trained.feature_map, temporary[0])
        difference = parity(module, trained.feature_map, temporary[0], fmt)
        write_json(temporary[1], serving_metadata(trained, fmt, os.path.basename(paths[0]),
                                                  os.path.basename(paths[2])))
        write_json(temporary[2], vocabularies(trained.processor, module.names))
        for source, target in zip(temporary, paths):
            os.replace(source, target)
    finally:
        for path in temporary:
            if os.path.exists(path):
                os.remove(path)
    return {"paths": paths, "max_abs_diff": difference}


def to_onnx(module, feature_map, path):
    """ONNX through ``torch.export``, every input's first dimension a dynamic ``batch``; torch's
    exporter reports its steps on stdout, kept and shown only if it fails."""
    names = module.names
    size = sum(t.numel() * t.element_size() for t in module.state_dict().values())
    if size >= 2 ** 31:
        raise ValueError(f"--format onnx: the model's {size / 2 ** 30:.1f} GiB of weights exceed what one ONNX file "
                         "holds (2 GiB); use --format torchscript")
    batch = torch.export.Dim("batch", min=1)
    report = io.StringIO()
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)  # its notes on absent torchvision ops
    try:
        with contextlib.redirect_stdout(report), torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # notes on how it names the dynamic axis
            torch.onnx.export(module, example_inputs(feature_map, 8), path, input_names=names,
                              output_names=[OUTPUT_NAME], dynamo=True, external_data=False,
                              dynamic_shapes=(tuple({0: batch} for _ in names),))
    except Exception as error:
        raise ValueError(f"--format onnx: torch's exporter failed for {type(module.model).__name__} "
                         f"({type(error).__name__}: {str(error).splitlines()[0]}); its report:\n"
                         f"{report.getvalue()[-2000:]}") from None


def to_torchscript(module, feature_map, path):
    """TorchScript by tracing (the forward has no data-dependent control flow); the batch size
    is not baked in: the parity check runs two others than the traced one."""
    with torch.no_grad():
        traced = torch.jit.trace(module, example_inputs(feature_map, 8), check_trace=False)
    traced.save(path)


def run_exported(path, fmt, names, inputs):
    """The exported graph's output for ``inputs`` (a tuple of tensors), as a numpy array."""
    if fmt == "onnx":
        import onnxruntime
        session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
        return session.run([OUTPUT_NAME], {name: x.numpy() for name, x in zip(names, inputs)})[0]
    with torch.no_grad():
        return torch.jit.load(path)(*inputs).numpy()


def parity(module, feature_map, path, fmt, batch_sizes=CHECK_BATCH_SIZES):
    """Largest |eager - exported| over random inputs at ``batch_sizes``; ``ValueError`` above
    :data:`TOLERANCE`."""
    worst = 0.0
    for seed, batch_size in enumerate(batch_sizes, start=1):
        inputs = example_inputs(feature_map, batch_size, seed=seed)
        with torch.no_grad():
            eager = module(*inputs).numpy()
        exported = run_exported(path, fmt, module.names, inputs)
        if exported.shape != eager.shape:
            raise ValueError(f"export: the {fmt} graph returns shape {exported.shape} at batch {batch_size}, "
                             f"eager {eager.shape}")
        difference = float(np.abs(exported - eager).max())
        if difference > TOLERANCE:
            raise ValueError(f"export: the {fmt} graph differs from the eager model by {difference:.3g} at batch "
                             f"{batch_size} (tolerance {TOLERANCE}); nothing was written")
        worst = max(worst, difference)
    return worst


def serving_metadata(trained, fmt, graph_file, vocab_file):
    """What a server needs to turn raw rows into the graph's inputs, and what the graph is."""
    processor, params = trained.processor, trained.experiment.params
    columns = {col["name"]: col for col in processor.feature_cols}
    inputs = [input_spec(name, spec, columns[name], processor.processor_dict)
              for name, spec in serving_inputs(trained.feature_map)]
    return {
        "graph": graph_file, "format": fmt, "vocabulary": vocab_file,
        "expid": trained.experiment.expid, "model": params["model"], "dataset_id": params["dataset_id"],
        "checkpoint": trained.checkpoint, "torch_version": torch.__version__,
        "output": {"name": OUTPUT_NAME, "dtype": "float32", "shape": ["batch", 1],
                   "meaning": "click probability (sigmoid of the logit)"},
        "inputs": inputs,
        "raw_separator": params.get("sep", ","),
        "encoding": "each input is made from its raw column as fuxictr's FeatureProcessor does: a missing value "
                    "takes fill_na; categorical values map through the vocabulary, unseen ones to oov_id; "
                    "sequences split on splitter, map the same way, pad with padding_id to max_len; numerics "
                    "take the normalizer's formula",
    }


def input_spec(name, spec, column, processors):
    """One input's entry of ``serving.json``."""
    entry = {"name": name, "type": spec["type"], "raw_column": name, "raw_dtype": str(column.get("dtype")),
             "fill_na": column.get("fill_na", _default_fill(column)),
             "dtype": "float32" if spec["type"] == "numeric" else "int64",
             "shape": ["batch", spec["max_len"]] if spec["type"] == "sequence" else ["batch"]}
    if column.get("preprocess"):
        entry["preprocess"] = column["preprocess"]  # a FeatureProcessor method the server must reproduce
    tokenizer = processors.get(name + "::tokenizer")
    if tokenizer is not None:
        entry.update(vocab_size=spec["vocab_size"], oov_id=tokenizer.vocab["__OOV__"],
                     padding_id=tokenizer.vocab.get("__PAD__", 0), vocabulary_key=name)
    if spec["type"] == "sequence":
        entry.update(splitter=tokenizer._splitter, max_len=spec["max_len"], padding=tokenizer.padding)
    normalizer = processors.get(name + "::normalizer")
    if normalizer is not None:
        entry["normalizer"] = normalizer_constants(normalizer.normalizer)
    return entry


def _default_fill(column):
    return {"str": "", "int": 0, "float": 0.0}.get(str(column.get("dtype")), None)


def normalizer_constants(transform):
    """A fitted fuxictr normaliser as a formula and its constants (sklearn's ``StandardScaler`` or
    ``MinMaxScaler``, fitted from the train split's statistics)."""
    scaler = getattr(transform, "__self__", transform)
    kind = type(scaler).__name__
    if kind == "StandardScaler":
        return {"kind": kind, "formula": "(x - mean) / scale", "mean": float(scaler.mean_[0]),
                "scale": float(scaler.scale_[0])}
    if kind == "MinMaxScaler":
        return {"kind": kind, "formula": "x * scale + min", "scale": float(scaler.scale_[0]), "min": float(scaler.min_[0])}
    raise ValueError(f"export: a numeric normalizer of kind {kind!r} cannot be described for serving")


def vocabularies(processor, names):
    """``{feature: {raw value: id}}`` of every input with a vocabulary (``__OOV__`` and ``__PAD__``
    included)."""
    return {name: {str(token): int(index) for token, index in processor.processor_dict[name + "::tokenizer"].vocab.items()}
            for name in names if name + "::tokenizer" in processor.processor_dict}
