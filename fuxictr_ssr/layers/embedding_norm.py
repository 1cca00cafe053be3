from torch import nn


EMBEDDING_NORMS = ("batch_norm", "field_batch_norm", "layer_norm", "none")


class EmbeddingNorm(nn.Module):
    """Normalisation of the field embeddings before they are flattened into SSR's input.

    * ``batch_norm``: each of the D embedding dimensions with statistics over the batch and all
      F fields (``BatchNorm1d(D)`` on ``[B, D, F]``); a model's ``batch_norm_warm_start``
      (default) makes it a :class:`WarmStartBatchNorm1d`, as every BatchNorm of the model, since
      torch's prior (mean 0, variance 1) lags embeddings that start at scale 1e-4;
    * ``field_batch_norm``: each of the F fields with statistics over the batch and its D
      dimensions (``BatchNorm1d(F)`` on ``[B, F, D]``; the authors' SSR-S, Keras ``axis=-2``),
      the same;
    * ``layer_norm``: each field's D-vector on its own (``LayerNorm(D)``);
    * ``none``: the embeddings as they are.

    Args:
        kind: one of :data:`EMBEDDING_NORMS`.
        embedding_dim: D.
        num_fields: F (``field_batch_norm`` only).
        momentum, eps: of the BatchNorm (torch convention for ``momentum``).

    Shape:
        input ``[B, F, D]`` -> output ``[B, F, D]``.

    Example:
        >>> import torch
        >>> norm = EmbeddingNorm("batch_norm", embedding_dim=4)
        >>> out = norm(torch.randn(32, 6, 4) * 3 + 1)
        >>> out.shape, round(out.mean().item(), 4) == 0.0
        (torch.Size([32, 6, 4]), True)
    """

    def __init__(self, kind, embedding_dim, num_fields=None, momentum=0.1, eps=1e-5):
        super().__init__()
        if kind not in EMBEDDING_NORMS:
            raise ValueError(f"embedding_norm: expected one of {', '.join(EMBEDDING_NORMS)}, got {kind!r}")
        self.kind = kind
        if kind in ("batch_norm", "field_batch_norm"):
            channels = embedding_dim if kind == "batch_norm" else num_fields
            self.norm = nn.BatchNorm1d(channels, eps=eps, momentum=momentum)
        elif kind == "layer_norm":
            self.norm = nn.LayerNorm(embedding_dim)
        else:
            self.norm = None

    def forward(self, embeddings):
        if self.kind == "batch_norm":
            return self.norm(embeddings.transpose(1, 2)).transpose(1, 2)
        if self.kind == "field_batch_norm":
            return self.norm(embeddings)
        return embeddings if self.norm is None else self.norm(embeddings)
