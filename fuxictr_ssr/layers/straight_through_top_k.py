import torch
from torch import nn


class StraightThroughTopK(nn.Module):
    """Hard top-k per view with a straight-through gradient: the SSR paper's ablation of ICS
    (Table 4, "straight-through top-k").

    .. math::
        \\mathrm{forward}: \\ a = u \\odot m, \\ m_j = [u_j \\text{ among the } k \\text{ largest of its view}];
        \\quad \\mathrm{backward}: \\ \\partial a / \\partial u = I

    Every sample keeps exactly ``k`` entries per view (ICS keeps a sample-dependent number);
    the gradient reaches all ``d_v`` entries, the kept and the dropped.

    Args:
        view_dim: d_v.
        k: entries kept per view, ``1 <= k <= d_v``.

    Shape:
        input ``[B, b, d_v]`` -> output ``[B, b, d_v]``; ``feature_major=True``: ``[b, d_v, B]``.

    Example:
        >>> top = StraightThroughTopK(view_dim=4, k=2)
        >>> top(torch.tensor([[[3.0, -1.0, 2.0, 0.5]]]))
        tensor([[[3., 0., 2., 0.]]])
    """

    def __init__(self, view_dim, k):
        super().__init__()
        if not isinstance(k, int) or not 1 <= k <= view_dim:
            raise ValueError(f"k must be in [1, {view_dim}], got {k}")
        self.k = k

    def forward(self, u, feature_major=False):
        view_axis = 1 if feature_major else -1
        threshold = u.topk(self.k, dim=view_axis).values.narrow(view_axis, self.k - 1, 1)
        kept = u * (u >= threshold)
        return u + (kept - u).detach()

    def extra_repr(self):
        return f"k={self.k}"
