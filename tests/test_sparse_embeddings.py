"""The opt-in sparse embedding path (``embedding_optimizer: sparse_adam``): after one step it equals
the dense protocol where the two must agree, it moves only the rows a batch touched, its regulariser
covers exactly those rows, and a bad value is named."""
import copy

import pytest
import torch

from fuxictr_ssr.config import load_params
from fuxictr_ssr.models.sparse_embeddings import clip_gradient_norm, embedding_tables
from fuxictr_ssr.registry import create_model
from helpers import categorical_feature_map, generated_experiment, run_cli
from test_registry import ZOO_IDS, ZOO_TEST_EXPIDS, random_batch


def twin_models(config_dir, expid, tmp_path, **extra):
    """The zoo experiment built twice from the same seed: dense (FuxiCTR's protocol) and sparse."""
    params = {**load_params(config_dir, expid), "model_root": str(tmp_path), **extra}
    feature_map = categorical_feature_map(num_fields=12, vocab_size=200)
    torch.manual_seed(0)
    dense = create_model(params, feature_map)
    torch.manual_seed(0)
    sparse = create_model({**params, "embedding_optimizer": "sparse_adam"}, feature_map)
    for model in (dense, sparse):
        model._max_gradient_norm = 10.0
        model.train()
    return dense, sparse, feature_map


def table_rows(model):
    return [table.weight.detach().clone() for table in embedding_tables(model)]


@pytest.mark.parametrize("config_dir,expid", ZOO_TEST_EXPIDS, ids=ZOO_IDS)
def test_one_sparse_step_equals_the_dense_step_without_a_regulariser(config_dir, expid, tmp_path):
    """Adam's first step moves a row by lr * m / (sqrt(v) + eps): zero for a zero gradient, so lazy
    and dense Adam agree on the first step, rows and tower alike; after it they differ by design.
    SparseAdam adds eps before the bias correction sqrt(1 - beta2) and torch's Adam after it: with
    eps scaled by that factor the first steps are the same computation."""
    dense, sparse, feature_map = twin_models(config_dir, expid, tmp_path, embedding_regularizer=None)
    lazy = sparse.optimizer.optimizers[1].param_groups[0]
    lazy["eps"] *= (1 - lazy["betas"][1]) ** 0.5
    batch = random_batch(feature_map, size=64, vocab_size=200)
    assert all(table.weight.grad is None for table in embedding_tables(sparse))
    loss_dense, loss_sparse = dense.train_step(batch), sparse.train_step(batch)
    assert loss_sparse.item() == pytest.approx(loss_dense.item(), abs=1e-6)
    for (name, a), (_, b) in zip(dense.named_parameters(), sparse.named_parameters()):
        torch.testing.assert_close(b, a, atol=1e-6, rtol=1e-5, msg=name)
    assert all(table.weight.grad.is_sparse for table in embedding_tables(sparse))


@pytest.mark.parametrize("config_dir,expid", ZOO_TEST_EXPIDS, ids=ZOO_IDS)
def test_sparse_steps_move_only_the_rows_the_batch_touched(config_dir, expid, tmp_path):
    dense, sparse, feature_map = twin_models(config_dir, expid, tmp_path, embedding_regularizer=1e-2)
    first, second = (random_batch(feature_map, size=32, vocab_size=200) for _ in range(2))
    second = {name: (values % 50 + 100 if name != "label" else values) for name, values in second.items()}
    for model in (dense, sparse):
        model.train_step(first)
    before_sparse, before_dense = table_rows(sparse), table_rows(dense)
    for model in (dense, sparse):
        model.train_step(second)
    for table, before, name in zip(embedding_tables(sparse), before_sparse, feature_map.features):
        moved = (table.weight.detach() != before).any(dim=1)
        touched = torch.zeros_like(moved)
        touched[second[name].unique()] = True
        assert moved[touched].all(), name
        assert not moved[~touched].any(), name  # first batch's rows included: no momentum step
    dense_moved = [(table.weight.detach() != before).any(dim=1) for table, before in
                   zip(embedding_tables(dense), before_dense)]
    assert all(moved[1:].all() for moved in dense_moved)  # the regulariser moves every row but padding


def test_the_regulariser_covers_the_touched_rows_once(tmp_path):
    feature_map = categorical_feature_map(num_fields=3, vocab_size=50)
    model = create_model({"model": "DNN", "embedding_dim": 4, "hidden_units": [8], "model_root": str(tmp_path),
                          "embedding_regularizer": 0.5, "net_regularizer": 0.25,
                          "embedding_optimizer": "sparse_adam"}, feature_map)
    model.train()
    batch = {name: torch.tensor([3, 3, 7, 0]) for name in feature_map.features}  # 0: padding, 3 twice
    batch["label"] = torch.tensor([1.0, 0.0, 1.0, 0.0])
    model(batch)
    expected = sum(0.5 / 2 * table.weight[[0, 3, 7]].norm() ** 2 for table in embedding_tables(model))
    expected = expected + sum(0.25 / 2 * p.norm() ** 2 for name, p in model.named_parameters()
                              if "embedding_layer" not in name)
    assert model.regularization_loss().item() == pytest.approx(expected.item(), rel=1e-6)
    assert all(table.touched_ids == [] for table in embedding_tables(model))  # consumed once
    model.eval()
    model(batch)
    assert all(table.touched_ids == [] for table in embedding_tables(model))  # evaluation records nothing


def test_clipping_mixes_sparse_and_dense_gradients_as_torch_clips_dense_ones():
    torch.manual_seed(0)
    sparse, dense = torch.nn.Embedding(20, 4, sparse=True), torch.nn.Embedding(20, 4)
    dense.load_state_dict(sparse.state_dict())
    head = torch.nn.Linear(4, 1)
    head_copy = copy.deepcopy(head)
    ids = torch.tensor([1, 5, 5, 9])
    head(sparse(ids)).sum().backward()
    head_copy(dense(ids)).sum().backward()
    norm = clip_gradient_norm(list(sparse.parameters()) + list(head.parameters()), 0.3)
    reference = torch.nn.utils.clip_grad_norm_(list(dense.parameters()) + list(head_copy.parameters()), 0.3)
    assert norm.item() == pytest.approx(reference.item(), rel=1e-6) and norm > 0.3
    torch.testing.assert_close(sparse.weight.grad.to_dense(), dense.weight.grad)
    torch.testing.assert_close(head.weight.grad, head_copy.weight.grad)


def test_an_unknown_embedding_optimizer_is_named(tmp_path):
    with pytest.raises(ValueError, match="embedding_optimizer.*sparse_adam.*'adagrad'"):
        create_model({"model": "DNN", "embedding_dim": 4, "hidden_units": [8], "model_root": str(tmp_path),
                      "embedding_optimizer": "adagrad"}, categorical_feature_map())


def test_learning_rate_decay_reaches_the_sparse_optimizer(tmp_path):
    sparse = create_model({"model": "DNN", "embedding_dim": 4, "hidden_units": [8], "model_root": str(tmp_path),
                           "learning_rate": 1e-3, "embedding_optimizer": "sparse_adam"}, categorical_feature_map())
    sparse.lr_decay(factor=0.1)
    assert [group["lr"] for optimizer in sparse.optimizer.optimizers for group in optimizer.param_groups] == \
        pytest.approx([1e-4, 1e-4])


def test_sparse_updates_under_several_processes_are_refused_by_name(tmp_path, monkeypatch):
    config = generated_experiment(tmp_path, {"DNN_sparse": {"model": "DNN", "hidden_units": [8],
                                                            "embedding_optimizer": "sparse_adam"}})
    monkeypatch.setenv("WORLD_SIZE", "2")  # as torchrun sets it
    done = run_cli(tmp_path, "run", "--config", config, "--expid", "DNN_sparse")
    assert done.returncode != 0
    assert "embedding_optimizer: 'sparse_adam' (sparse updates) runs in one process only" in done.stderr + done.stdout
