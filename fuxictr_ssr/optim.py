"""Optimizers with other frameworks' arithmetic, for reproducing models trained there."""
import math

import torch


class KerasAdam(torch.optim.Optimizer):
    """Adam as Keras (TF 2.11+) computes it: the bias corrections go into the step size and
    ``eps`` is added to the raw ``sqrt(v)``.

    .. math::
        m_t = \\beta_1 m_{t-1} + (1 - \\beta_1) g, \\quad v_t = \\beta_2 v_{t-1} + (1 - \\beta_2) g^2,
        \\quad \\theta_t = \\theta_{t-1} - \\frac{lr \\sqrt{1 - \\beta_2^t}}{1 - \\beta_1^t}
        \\cdot \\frac{m_t}{\\sqrt{v_t} + \\epsilon}

    torch's Adam adds ``eps`` to ``sqrt(v_t / (1 - beta_2^t))`` instead, so the two differ while
    ``sqrt(v)`` is near ``eps`` (early steps, rare embedding rows). Keras' default ``eps`` is 1e-7.

    Example:
        >>> w = torch.nn.Parameter(torch.tensor([1.0]))
        >>> opt = KerasAdam([w], lr=0.1)
        >>> w.grad = torch.tensor([2.0]); opt.step()
        >>> round(w.item(), 6)  # first step: lr * sign(g), as in any Adam
        0.9
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-7):
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps})

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            beta_1, beta_2 = group["betas"]
            for param in group["params"]:
                if param.grad is None:
                    continue
                state = self.state[param]
                if not state:
                    state["step"] = 0
                    state["m"] = torch.zeros_like(param)
                    state["v"] = torch.zeros_like(param)
                state["step"] += 1
                step = state["step"]
                state["m"].lerp_(param.grad, 1 - beta_1)
                state["v"].mul_(beta_2).addcmul_(param.grad, param.grad, value=1 - beta_2)
                step_size = group["lr"] * math.sqrt(1 - beta_2 ** step) / (1 - beta_1 ** step)
                param.addcdiv_(state["m"], state["v"].sqrt().add_(group["eps"]), value=-step_size)
        return loss


class OptimizerPair:
    """Two optimizers stepped as one: ``param_groups`` lists both's groups (the same dicts), so
    FuxiCTR's learning-rate decay, which edits ``optimizer.param_groups``, reaches both.

    Example:
        >>> a, b = torch.nn.Parameter(torch.ones(1)), torch.nn.Parameter(torch.ones(1))
        >>> pair = OptimizerPair(torch.optim.SGD([a], lr=0.1), torch.optim.SGD([b], lr=0.1))
        >>> for group in pair.param_groups: group["lr"] = 0.5
        >>> a.grad, b.grad = torch.ones(1), torch.ones(1); pair.step()
        >>> a.item(), b.item()
        (0.5, 0.5)
    """

    def __init__(self, *optimizers):
        self.optimizers = optimizers

    @property
    def param_groups(self):
        return [group for optimizer in self.optimizers for group in optimizer.param_groups]

    def zero_grad(self, set_to_none=True):
        for optimizer in self.optimizers:
            optimizer.zero_grad(set_to_none=set_to_none)

    def step(self, closure=None):
        for optimizer in self.optimizers:
            optimizer.step()

    def state_dict(self):
        return {"optimizers": [optimizer.state_dict() for optimizer in self.optimizers]}

    def load_state_dict(self, state):
        for optimizer, saved in zip(self.optimizers, state["optimizers"]):
            optimizer.load_state_dict(saved)
