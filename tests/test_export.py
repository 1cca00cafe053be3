"""``fuxictr-ssr export``: every registered model (and SSR's variants) as ONNX and TorchScript,
equal to the eager model within 1e-5 at two batch sizes; the serving metadata alone is enough to
turn raw rows into the graph's inputs; bad options are named before any work."""
import json
import os
from collections import OrderedDict

import numpy as np
import pandas as pd
import pytest
import torch
from fuxictr.features import FeatureMap

from fuxictr_ssr import export
from fuxictr_ssr.config import load_params
from fuxictr_ssr.models.serving import NamedInputModel, example_inputs, serving_inputs
from fuxictr_ssr.registry import create_model, list_models
from helpers import needs_feature_major, run_cli
from test_registry import ZOO_TEST_EXPIDS

TOLERANCE = 1e-5
SSR_VARIANTS = {  # beyond the zoo's SSR_test (SSR-D, gated) and SSR_S_test (static gather)
    "SSR_D_text": {"preset": "SSR_D_text", "embedding_dim": 4},
    "SSR_S_repo": {"preset": "SSR_S_repo", "embedding_dim": 4, "num_views": [4, 4], "view_dims": [16, 16]},
    "SSR_topk": {"filter_type": "topk", "num_views": [2, 2], "view_dims": [8, 8]},
    "SSR_feature_major": {"ssr_layout": "feature_major", "num_views": [2, 2], "view_dims": [8, 8]},
}
needs_onnx_exporter = pytest.mark.skipif(not export.has_onnx_exporter(), reason=(
    f"torch {torch.__version__} has no torch.export-based ONNX exporter (torch >= 2.6); export says so"))
CASES = {expid: load_params(config_dir, expid) for config_dir, expid in ZOO_TEST_EXPIDS}
CASES.update({name: {"model": "SSR", **variant} for name, variant in SSR_VARIANTS.items()})


def mixed_feature_map():
    """Categorical, numeric and sequence inputs, as a built dataset's feature map has them."""
    feature_map = FeatureMap("mixed", data_dir="unused")
    feature_map.features = OrderedDict(
        [(f"c{i}", {"source": "", "type": "categorical", "padding_idx": 0, "vocab_size": 15}) for i in range(1, 6)]
        + [("n1", {"source": "", "type": "numeric"}), ("n2", {"source": "", "type": "numeric"}),
           ("tags", {"source": "", "type": "sequence", "padding_idx": 0, "vocab_size": 11, "max_len": 4,
                     "feature_encoder": "layers.MaskedAveragePooling()"})])
    feature_map.labels = ["label"]
    feature_map.num_fields = feature_map.get_num_fields()
    feature_map.set_column_index()
    return feature_map


def spread_model(params, feature_map, tmp_path):
    """The model with every parameter moved off its initial value (FuxiCTR's N(0, 1e-4) tables
    give nearly one score for every row, which a graph ignoring its inputs would also match)."""
    torch.manual_seed(0)  # the same weights whichever tests ran before (float32 gaps depend on them)
    model = create_model({**params, "model_root": str(tmp_path)}, feature_map)
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for param in model.parameters():
            param.add_(torch.randn(param.shape, generator=generator) * 0.3)
    return NamedInputModel(model.eval(), feature_map).eval()


def test_the_cases_cover_every_registered_model():
    assert {params["model"] for params in CASES.values()} == set(list_models())


@pytest.mark.slow
@pytest.mark.parametrize("fmt", [pytest.param("onnx", marks=needs_onnx_exporter), "torchscript"])
@pytest.mark.parametrize("case", [pytest.param(case, marks=needs_feature_major) if case == "SSR_feature_major" else case
                                  for case in CASES])
def test_exported_graph_equals_the_eager_model(case, fmt, tmp_path):
    feature_map = mixed_feature_map()
    module = spread_model(CASES[case], feature_map, tmp_path)
    path = str(tmp_path / f"model{export.FORMATS[fmt]}")
    (export.to_onnx if fmt == "onnx" else export.to_torchscript)(module, feature_map, path)
    for batch_size in (1, 300):
        inputs = example_inputs(feature_map, batch_size, seed=batch_size)
        with torch.no_grad():
            eager = module(*inputs).numpy()
        exported = export.run_exported(path, fmt, module.names, inputs)
        assert exported.shape == eager.shape == (batch_size, 1)
        assert np.abs(exported - eager).max() <= TOLERANCE, f"{case} {fmt} batch {batch_size}"
    assert eager.std() > 1e-3  # the scores differ from row to row: the inputs reach the output


@needs_onnx_exporter
def test_onnx_inputs_are_named_typed_and_batch_dynamic(tmp_path):
    import onnx
    feature_map = mixed_feature_map()
    path = str(tmp_path / "model.onnx")
    export.to_onnx(spread_model(CASES["DNN_test"], feature_map, tmp_path), feature_map, path)
    graph = onnx.load(path).graph
    kinds = {input.name: (onnx.TensorProto.DataType.Name(input.type.tensor_type.elem_type),
                          [d.dim_param or d.dim_value for d in input.type.tensor_type.shape.dim])
             for input in graph.input}
    assert list(kinds) == [name for name, _ in serving_inputs(feature_map)]
    assert kinds["c1"] == ("INT64", ["batch"]) and kinds["n1"] == ("FLOAT", ["batch"])
    assert kinds["tags"] == ("INT64", ["batch", 4])
    assert [o.name for o in graph.output] == ["probability"]


def serve(serving, vocabulary, frame):
    """A server's encoding of raw rows from ``serving.json`` and ``vocab.json`` alone."""
    inputs = {}
    for spec in serving["inputs"]:
        column = frame[spec["raw_column"]]
        if spec["type"] == "numeric":
            x = column.astype(float).fillna(spec["fill_na"]).to_numpy()
            norm = spec.get("normalizer")
            if norm and norm["kind"] == "StandardScaler":
                x = (x - norm["mean"]) / norm["scale"]
            elif norm:
                x = x * norm["scale"] + norm["min"]
            inputs[spec["name"]] = x.astype(np.float32)
            continue
        vocab = vocabulary[spec["vocabulary_key"]]
        if spec["type"] == "categorical":
            inputs[spec["name"]] = np.array([vocab.get(v, spec["oov_id"]) for v in column], dtype=np.int64)
            continue
        rows = np.full((len(column), spec["max_len"]), spec["padding_id"], dtype=np.int64)
        for i, text in enumerate(column):
            ids = [vocab.get(token, spec["oov_id"]) for token in text.split(spec["splitter"])][:spec["max_len"]]
            rows[i, :len(ids)] = ids
        inputs[spec["name"]] = rows
    return inputs


@pytest.mark.parametrize("fmt", [pytest.param("onnx", marks=needs_onnx_exporter), "torchscript"])
def test_a_server_with_the_metadata_reproduces_predict(mixed_trained, fmt, tmp_path):
    folder, _ = mixed_trained
    test_csv = os.path.join(os.path.dirname(folder), "data", "mixed", "test.csv")
    out = str(tmp_path / "exported" / f"ssr{export.FORMATS[fmt]}")
    done = run_cli(tmp_path, "export", "--config", folder, "--expid", "SSR_mixed", "--format", fmt, "--out", out)
    assert done.returncode == 0, done.stderr
    with open(out + ".serving.json") as handle:
        serving = json.load(handle)
    with open(out + ".vocab.json") as handle:
        vocabulary = json.load(handle)
    assert [s["name"] for s in serving["inputs"]] == ["c1", "c2", "c3", "n1", "n2", "n3", "tags"]
    assert {s["name"]: s.get("normalizer", {}).get("kind") for s in serving["inputs"]}["n2"] == "MinMaxScaler"
    raw = pd.read_csv(test_csv, dtype={"c1": str, "c2": str, "c3": str, "tags": str}, keep_default_na=False,
                      na_values={"n1": [""], "n2": [""], "n3": [""]})
    raw.loc[:9, "c1"] = "a value never seen in training"
    inputs = serve(serving, vocabulary, raw)
    names = [s["name"] for s in serving["inputs"]]
    served = export.run_exported(out, fmt, names, tuple(torch.from_numpy(inputs[n]) for n in names)).reshape(-1)

    raw.to_csv(tmp_path / "rows.csv", index=False)
    scored = run_cli(tmp_path, "predict", "--config", folder, "--expid", "SSR_mixed", "--data", "rows.csv",
                     "--out", "scores.csv")
    assert scored.returncode == 0, scored.stderr
    expected = pd.read_csv(tmp_path / "scores.csv")["score"].to_numpy()
    assert np.abs(served - expected).max() <= TOLERANCE
    assert expected.std() > 1e-3


def test_bad_export_options_are_named_before_any_work(trained_zoo, tmp_path, monkeypatch):
    def fails(*args):
        done = run_cli(trained_zoo, "export", "--expid", "SSR_test", *args)
        assert done.returncode == 2 and "Traceback" not in done.stderr
        return done.stderr

    assert "--format: expected one of onnx, torchscript, got 'tflite'" in fails("--format", "tflite")
    (tmp_path / "a_file").write_text("keep me")
    assert "is a file, not a folder" in fails("--format", "torchscript", "--out", str(tmp_path / "a_file" / "m.pt"))
    assert (tmp_path / "a_file").read_text() == "keep me"
    assert "does not exist" in fails("--format", "torchscript", "--checkpoint", str(tmp_path / "none.model"))
    monkeypatch.setattr(export, "has_onnx_exporter", lambda: False)
    assert "torch >= 2.6" in fails("--format", "onnx") and "--format torchscript" in fails("--format", "onnx")
    monkeypatch.setattr(export, "_importable", lambda name: name != "onnxruntime")
    assert "needs onnxruntime" in fails("--format", "onnx") and "pip install 'fuxictr-ssr[export]'" in fails(
        "--format", "onnx")


def test_a_failed_parity_check_writes_nothing(trained_zoo, monkeypatch):
    monkeypatch.setattr(export, "TOLERANCE", -1.0)  # every graph now "differs"
    done = run_cli(trained_zoo, "export", "--expid", "SSR_test", "--format", "torchscript", "--out", "m.pt")
    assert done.returncode == 2 and "differs from the eager model" in done.stderr and "nothing was written" in done.stderr
    assert not [name for name in os.listdir(trained_zoo) if name.startswith("m.pt")]
