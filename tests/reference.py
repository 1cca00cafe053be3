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
    if layer_filter.sparsifier == "ics":
        a = torch.relu(u)
        for t in range(layer_filter.ics.iterations):
            a = torch.relu(a - layer_filter.ics.alpha[t, view] * a.mean(dim=-1, keepdim=True))
        sparse = layer_filter.ics.gamma[view] * a
    elif layer_filter.sparsifier == "topk":  # forward: the k largest per row; backward: identity
        kept = torch.stack([row * (row >= row.sort(descending=True).values[layer_filter.top_k.k - 1]) for row in u])
        sparse = u + (kept - u).detach()
    elif layer_filter.sparsifier == "dropout" and layer_filter.training:
        raise ValueError("the dropout filter is random in training: compare it in eval mode")
    else:  # "none", and "dropout" in evaluation
        sparse = u
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
        if hasattr(fusion, "dense"):  # the paper-text block: one GELU projection, no residual
            v = F.gelu(h @ fusion.dense.weight[view] + fusion.dense.bias[view])
        else:
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


def token_mixing_reference(x):
    """Multi-head token mixing with T heads, one head and one token at a time."""
    tokens, width = x.shape[1], x.shape[2]
    head = width // tokens
    return torch.stack([torch.cat([x[:, t, h * head:(h + 1) * head] for t in range(tokens)], dim=-1)
                        for h in range(tokens)], dim=1)


def tokenizer_reference(tokenizer, embeddings):
    """Field-group tokens, one group and one field at a time."""
    tokens = []
    for group, projection in zip(tokenizer.groups, tokenizer.projections):
        flat = torch.cat([embeddings[:, field] for field in group], dim=-1)
        tokens.append(flat @ projection.weight.T + projection.bias)
    return torch.stack(tokens, dim=1)


def rankmixer_block_reference(block, x):
    """A RankMixer block with a Python loop over tokens for the per-token FFN."""
    width = x.shape[-1]
    s = F.layer_norm(token_mixing_reference(x) + x, (width,), block.mixing_norm.weight, block.mixing_norm.bias,
                     block.mixing_norm.eps)
    ffn = []
    for t in range(x.shape[1]):
        hidden = F.gelu(s[:, t] @ block.ffn_in.weight[t] + block.ffn_in.bias[t])
        ffn.append(hidden @ block.ffn_out.weight[t] + block.ffn_out.bias[t])
    return F.layer_norm(torch.stack(ffn, dim=1) + s, (width,), block.ffn_norm.weight, block.ffn_norm.bias,
                        block.ffn_norm.eps)


def fmb_reference(fmb, x):
    """Wukong's FMB through the explicit n x n interaction matrix X X^T."""
    pairwise = torch.stack([xi @ xi.T for xi in x])  # [B, n, n]
    interactions = (pairwise @ fmb.projection).flatten(start_dim=1)
    out = fmb.mlp(F.layer_norm(interactions, interactions.shape[-1:], fmb.norm.weight, fmb.norm.bias, fmb.norm.eps))
    return out.view(x.shape[0], fmb.num_outputs, fmb.embedding_dim)


def wukong_layer_reference(layer, x):
    """A Wukong layer, each embedding of the LCB and of the residual summed explicitly."""
    def recombine(weight):
        return torch.stack([sum(weight[o, i] * x[:, i] for i in range(x.shape[1])) for o in range(weight.shape[0])],
                           dim=1)
    residual = x if layer.residual is None else recombine(layer.residual.weight)
    stacked = torch.cat([fmb_reference(layer.fmb, x), recombine(layer.lcb.weight)], dim=1) + residual
    return F.layer_norm(stacked, stacked.shape[-1:], layer.norm.weight, layer.norm.bias, layer.norm.eps)
