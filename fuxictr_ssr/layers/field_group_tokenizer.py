import torch
from torch import nn


def split_fields(num_fields, num_tokens):
    """Fields ``0..num_fields-1`` in order, cut into ``num_tokens`` contiguous groups whose sizes
    differ by at most one (the larger groups first).

    Example:
        >>> split_fields(10, 4)
        [[0, 1, 2], [3, 4, 5], [6, 7], [8, 9]]
    """
    base, extra = divmod(num_fields, num_tokens)
    groups, start = [], 0
    for token in range(num_tokens):
        size = base + (token < extra)
        groups.append(list(range(start, start + size)))
        start += size
    return groups


class FieldGroupTokenizer(nn.Module):
    """RankMixer's tokeniser: each group of fields becomes one token of width D.

    .. math::
        x_t = [e_{g_{t,1}}; \\dots; e_{g_{t,m_t}}] W_t + c_t, \\quad W_t \\in R^{m_t E \\times D},
        \\quad t = 1..T

    (RankMixer, arXiv 2507.15551, Sec. 3.2: semantic field groups, each projected by its own
    dense layer). Groups may differ in size, so each token has its own ``nn.Linear``; there are
    few tokens (T is small) and this runs once per sample, before the blocks.

    Args:
        groups: T lists of field indices (every field in at most one group), e.g. from
            :func:`split_fields`.
        embedding_dim: E, the width of every field embedding.
        token_dim: D.

    Shape:
        input ``[B, F, E]`` -> output ``[B, T, D]``.

    Example:
        >>> tok = FieldGroupTokenizer(split_fields(10, 4), embedding_dim=8, token_dim=16)
        >>> tok(torch.randn(32, 10, 8)).shape
        torch.Size([32, 4, 16])
    """

    def __init__(self, groups, embedding_dim, token_dim):
        super().__init__()
        if not groups or any(not group for group in groups):
            raise ValueError(f"field groups: expected non-empty groups of field indices, got {groups!r}")
        self.groups = [list(group) for group in groups]
        self.projections = nn.ModuleList(nn.Linear(len(group) * embedding_dim, token_dim) for group in groups)

    def forward(self, embeddings):
        return torch.stack([projection(embeddings[:, group].flatten(start_dim=1))
                            for group, projection in zip(self.groups, self.projections)], dim=1)
