import torch
from torch import nn


class WarmStartBatchNorm1d(nn.BatchNorm1d):
    """``BatchNorm1d`` whose running statistics are the average of the batches seen, from the first.

    torch's running averages start from a prior (mean 0, variance 1) and move by ``momentum`` per
    batch, so after n batches the prior still weighs ``(1 - momentum)^n``. Field embeddings start
    tiny (fuxictr draws them from N(0, 1e-4^2), variance 1e-8) and stay small under an embedding
    regulariser: until ``(1 - momentum)^n`` is well below their variance, tens to hundreds of
    batches, the prior's variance of 1 dominates the running estimate, and eval mode then scores a
    model that does not exist. Here the n-th training
    batch moves the running statistics by

    .. math::
        \\mathrm{factor}_n = \\max(\\mathrm{momentum}, 1 / n)

    (the first batch replaces the prior, the first ``1 / momentum`` batches are averaged equally,
    then the usual exponential average): the bias-corrected moving average. Training outputs are
    unchanged (they use batch statistics); only the running statistics differ, and only while
    ``n < 1 / momentum``. Parameters, buffers and state-dict names are ``BatchNorm1d``'s.

    Args:
        num_features: channels C.
        eps: added to the variance.
        momentum: the exponential-average factor once warmed up (torch convention: Keras'
            ``momentum=0.99`` is 0.01 here).

    Shape:
        input ``[B, C]`` or ``[B, C, L]`` -> output of the same shape.

    Example:
        >>> import torch
        >>> bn = WarmStartBatchNorm1d(3)
        >>> x = torch.randn(256, 3) * 1e-3
        >>> _ = bn(x)
        >>> torch.allclose(bn.running_var, x.var(dim=0))
        True
    """

    def __init__(self, num_features, eps=1e-5, momentum=0.1):
        super().__init__(num_features, eps=eps, momentum=momentum)
        self.target_momentum = momentum
        self._warming = True

    def forward(self, x):
        if self.training and self._warming:
            return self._warming_forward(x)
        return super().forward(x)

    @torch.compiler.disable
    def _warming_forward(self, x):
        """Eager under ``torch.compile``: the momentum changes every batch here, which would
        recompile a graph per batch; once warm, one graph serves every later batch."""
        batches = int(self.num_batches_tracked) + 1  # the count this batch will be
        self.momentum = max(self.target_momentum, 1.0 / batches)
        self._warming = 1.0 / batches > self.target_momentum
        return super().forward(x)


def warm_start_batch_norms(model):
    """Replace every plain ``nn.BatchNorm1d`` inside ``model`` by a :class:`WarmStartBatchNorm1d`
    with the same settings, parameters and buffers; return how many were replaced.

    Example:
        >>> net = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3), nn.ReLU())
        >>> warm_start_batch_norms(net), type(net[1]).__name__
        (1, 'WarmStartBatchNorm1d')
    """
    replaced = 0
    for parent in list(model.modules()):
        for name, child in parent.named_children():
            if type(child) is nn.BatchNorm1d and child.affine and child.track_running_stats:
                warm = WarmStartBatchNorm1d(child.num_features, eps=child.eps, momentum=child.momentum)
                warm.load_state_dict(child.state_dict())
                setattr(parent, name, warm.to(child.weight.device))
                replaced += 1
    return replaced
