from torch import nn

EMBEDDING_NORMS = ("batch_norm", "layer_norm", "none")


class EmbeddingNorm(nn.Module):
    """Normalisation of the field embeddings before they are flattened into SSR's input.

    * ``batch_norm``: each of the D embedding dimensions with statistics over the batch and all
      F fields (``BatchNorm1d(D)`` on ``[B, D, F]``);
    * ``layer_norm``: each field's D-vector on its own (``LayerNorm(D)``);
    * ``none``: the embeddings as they are.

    Args:
        kind: one of :data:`EMBEDDING_NORMS`.
        embedding_dim: D.

    Shape:
        input ``[B, F, D]`` -> output ``[B, F, D]``.

    Example:
        >>> import torch
        >>> norm = EmbeddingNorm("batch_norm", embedding_dim=4)
        >>> out = norm(torch.randn(32, 6, 4) * 3 + 1)
        >>> out.shape, round(out.mean().item(), 4) == 0.0
        (torch.Size([32, 6, 4]), True)
    """

    def __init__(self, kind, embedding_dim):
        super().__init__()
        if kind not in EMBEDDING_NORMS:
            raise ValueError(f"embedding_norm: expected one of {', '.join(EMBEDDING_NORMS)}, got {kind!r}")
        self.kind = kind
        if kind == "batch_norm":
            self.norm = nn.BatchNorm1d(embedding_dim)
        elif kind == "layer_norm":
            self.norm = nn.LayerNorm(embedding_dim)
        else:
            self.norm = None

    def forward(self, embeddings):
        if self.kind == "batch_norm":
            return self.norm(embeddings.transpose(1, 2)).transpose(1, 2)
        return embeddings if self.norm is None else self.norm(embeddings)
