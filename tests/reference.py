"""Plain per-view reference implementations (Python loops over views and samples) for the tests."""
import torch
import torch.nn.functional as F


def ics_reference(u, alpha, gamma):
    """ICS for u [B, b, d_v], one sample and one view at a time."""
    rows = []
    for n in range(u.size(0)):
        views = []
        for i in range(u.size(1)):
            a = torch.relu(u[n, i])
            for t in range(alpha.size(0)):
                a = torch.relu(a - alpha[t, i] * a.mean())
            views.append(gamma[i] * a)
        rows.append(torch.stack(views))
    return torch.stack(rows)


def filter_reference(layer_filter, x, view):
    """Output of one view's filter, computed from the module's own parameters."""
    if hasattr(layer_filter, "indices"):
        return x[:, layer_filter.indices[view]]
    b, d_v = layer_filter.num_views, layer_filter.view_dim
    weight = layer_filter.projection.weight  # [(1 or 2) * b * d_v, d_in]
    u = x @ weight[view * d_v:(view + 1) * d_v].T
    a = torch.relu(u)
    for t in range(layer_filter.ics.iterations):
        a = torch.relu(a - layer_filter.ics.alpha[t, view] * a.mean(dim=-1, keepdim=True))
    sparse = layer_filter.ics.gamma[view] * a
    if not layer_filter.gate:
        return sparse
    value = x @ weight[b * d_v + view * d_v: b * d_v + (view + 1) * d_v].T
    return sparse * value


def ssr_layer_reference(layer, x):
    """MultiViewSSRLayer, one view at a time."""
    fusion = layer.fusion
    outputs = []
    for view in range(fusion.norm_weight.size(0)):
        h = filter_reference(layer.filter, x, view)
        v = h
        for dense in fusion.dense_layers:
            v = F.gelu(v @ dense.weight[view] + dense.bias[view])
        if len(fusion.dense_layers):
            v = h + v
        z = F.layer_norm(v, v.shape[-1:], eps=fusion.layer_norm_eps)
        outputs.append(z * fusion.norm_weight[view] + fusion.norm_bias[view])
    if layer.reduce == "concat":
        return torch.cat(outputs, dim=1)
    return torch.stack(outputs).mean(dim=0)
