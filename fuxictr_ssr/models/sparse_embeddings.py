"""Opt-in sparse embedding updates: ``embedding_optimizer: sparse_adam``.

Under FuxiCTR's protocol (and BARS's) every training step builds a dense gradient as large as every
embedding table, Adam moves every row (its momentum keeps moving rows the batch did not touch), and
``embedding_regularizer`` adds the whole tables' norm to each batch loss. With a million ids that
costs more than the dense tower (``benchmarks/embedding_tables.py``). With ``embedding_optimizer:
sparse_adam``:

* each table's lookup gives a sparse gradient (``nn.Embedding(sparse=True)``): the rows the batch
  touched, nothing else;
* ``torch.optim.SparseAdam`` updates those rows and their moments only ("lazy" Adam), with the
  configured optimizer's betas and eps (SparseAdam adds eps to ``sqrt(v)`` before the bias
  correction, as Keras does, torch's Adam after it); every other parameter keeps the configured
  ``optimizer``, and both share the learning rate and its decay;
* ``embedding_regularizer`` is applied to the rows the batch touched, each once;
* gradient clipping (``max_gradient_norm``) takes the norm over the sparse rows and the dense
  gradients together.

It trains a different model from the dense protocol (rows a batch does not touch stay put), so it is
off by default: rows compared with BARS's keep BARS's protocol. Tables built by FuxiCTR as plain
``nn.Embedding`` are made sparse; pretrained tables and numeric features' projections stay dense.
"""
import torch
from torch import nn

from fuxictr.pytorch.layers import FeatureEmbeddingDict
from fuxictr.pytorch.torch_utils import get_regularizer

from ..optim import OptimizerPair

EMBEDDING_OPTIMIZERS = {"sparse_adam": torch.optim.SparseAdam}


def embedding_tables(model):
    """The plain ``nn.Embedding`` tables of the model's ``FeatureEmbeddingDict`` modules, once each
    (a shared table is one module under several names)."""
    tables = {}
    for module in model.modules():
        if isinstance(module, FeatureEmbeddingDict):
            for layer in module.embedding_layers.values():
                if type(layer) is nn.Embedding:
                    tables[id(layer)] = layer
    return list(tables.values())


def _record_touched_ids(table, inputs):
    if table.training and torch.is_grad_enabled():
        table.touched_ids.append(inputs[0].reshape(-1))


def make_sparse(model, embedding_optimizer, learning_rate):
    """Switch ``model``'s tables to sparse gradients and ``model.optimizer`` to the configured one
    for the other parameters plus ``embedding_optimizer`` for the tables (in place)."""
    tables = embedding_tables(model)
    if not tables:
        raise ValueError("embedding_optimizer: the model has no plain embedding tables to update sparsely")
    table_ids = {id(table.weight) for table in tables}
    for table in tables:
        table.sparse, table.touched_ids = True, []
        table.register_forward_pre_hook(_record_touched_ids)
    dense = [p for p in model.parameters() if id(p) not in table_ids]
    defaults = model.optimizer.defaults
    shared = {key: defaults[key] for key in ("betas", "eps") if key in defaults}
    model.optimizer = OptimizerPair(type(model.optimizer)(dense, **defaults),
                                    EMBEDDING_OPTIMIZERS[embedding_optimizer]([t.weight for t in tables],
                                                                              lr=learning_rate, **shared))
    model.sparse_tables = tables


def touched_rows_penalty(tables, embedding_regularizer):
    """``embedding_regularizer``'s terms (``lambda / p * ||rows||_p^p``) over the rows each table
    looked up since the last call, each row once; the ids recorded are then cleared."""
    terms, penalty = get_regularizer(embedding_regularizer), 0
    for table in tables:
        touched, table.touched_ids = table.touched_ids, []  # cleared every step, regulariser or not
        if not (terms and touched):
            continue
        ids = torch.cat(touched).unique()
        rows = nn.functional.embedding(ids, table.weight, padding_idx=table.padding_idx, sparse=True)
        for p, strength in terms:
            penalty = penalty + (strength / p) * rows.norm(p) ** p
    return penalty


@torch.no_grad()
def clip_gradient_norm(parameters, max_norm):
    """``nn.utils.clip_grad_norm_`` for a mix of dense and sparse gradients (torch's own cannot take
    the norm of a sparse tensor): sparse gradients are coalesced first, so a row looked up twice
    counts once with its summed gradient. Returns the total norm before clipping."""
    grads = []
    for param in parameters:
        if param.grad is not None:
            if param.grad.is_sparse:
                param.grad = param.grad.coalesce()
            grads.append(param.grad._values() if param.grad.is_sparse else param.grad)
    if not grads:
        return torch.tensor(0.0)
    total = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))
    scale = (max_norm / (total + 1e-6)).clamp(max=1.0)
    for grad in grads:
        grad.mul_(scale)
    return total
