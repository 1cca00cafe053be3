"""Record the authors' SSR models (their released Keras code) at a small shape, for the parity
tests (tests/test_parity.py).

Runs in a separate environment with TensorFlow, never in this package's:

    python3 -m venv /tmp/tfenv
    /tmp/tfenv/bin/pip install tensorflow-cpu==2.15.1 "numpy<2" scikit-learn tqdm pandas
    git clone https://github.com/Atticus666/SSRNet /tmp/SSRNet     # tested at 8b07c89
    /tmp/tfenv/bin/python benchmarks/parity/make_fixtures.py --ssrnet /tmp/SSRNet \\
        --out tests/fixtures/ssr_parity.npz

Their model classes are imported from ``--ssrnet`` and run as they are. For each variant (SSR-D
gated, SSR-D ungated, SSR-S) the script builds the model, sets every weight to a seeded random
value (so no stage can pass trivially), feeds a batch of field embeddings through the model's own
``call`` in training mode (one embedding row per (example, field), so the embedding table *is*
the input), and records the weights, under names that say what each one is, the inputs, labels,
the logits (the output layer's sigmoid switched off) and the gradient of the mean BCE-with-logits
loss with respect to every weight and to the input embeddings.
"""
import argparse
import os
import sys

import numpy as np

BATCH, FIELDS, DIM = 24, 4, 4
VIEWS, VIEW_DIM, ITERATIONS = 2, 8, 3


def randomise(variables, rng, scale=0.4):
    for variable in variables:
        variable.assign(rng.normal(0, scale, variable.shape).astype(np.float32))


def ssr_d_weights(model):
    """Every weight of an SSRNetT (T21 blocks) under a name that says what it is."""
    named = {"embedding_bn/gamma": model.embedding_bn.gamma, "embedding_bn/beta": model.embedding_bn.beta,
             "head/kernel": model.prediction_layer.kernel, "head/bias": model.prediction_layer.bias}
    for layer, block in enumerate(model.ssr_blocks, start=1):
        for view in range(block.tokennum):
            prefix = f"layer{layer}/view{view}"
            named[f"{prefix}/input_weight"] = block.input_weights[view]
            if block.use_gate:
                named[f"{prefix}/value_weight"] = block.value_weights[view]
            named[f"{prefix}/alpha"] = block.alphas[view]
            named[f"{prefix}/scale"] = block.scales[view]
            if block.use_block_dense:
                dense = block.dense_layers[view].layers[0]
                named[f"{prefix}/dense/kernel"], named[f"{prefix}/dense/bias"] = dense.kernel, dense.bias
            norm = block.layer_norms[view]
            named[f"{prefix}/layer_norm/gamma"], named[f"{prefix}/layer_norm/beta"] = norm.gamma, norm.beta
    return named


def ssr_s_weights(model):
    """Every weight of an SSRNet (static blocks) under a name that says what it is."""
    hidden, output = model.prediction_layer.layers
    named = {"embedding_bn/gamma": model.embedding_norm.gamma, "embedding_bn/beta": model.embedding_norm.beta,
             "head/hidden/kernel": hidden.kernel, "head/hidden/bias": hidden.bias,
             "head/kernel": output.kernel, "head/bias": output.bias}
    for layer, block in enumerate(model.ssr_blocks, start=1):
        for view in range(block.b_matrices):
            prefix = f"layer{layer}/view{view}"
            for number, dense in enumerate(block.hidden_layers[view]):
                named[f"{prefix}/dense{number}/kernel"], named[f"{prefix}/dense{number}/bias"] = dense.kernel, dense.bias
            norm = block.layer_norms[view]
            named[f"{prefix}/layer_norm/gamma"], named[f"{prefix}/layer_norm/beta"] = norm.gamma, norm.beta
        named[f"layer{layer}/indices"] = block.fixed_indices_group
    return named


def record(tf, model, weights_of, output_layer, rng):
    index = np.arange(BATCH * FIELDS, dtype=np.int32).reshape(BATCH, FIELDS)
    inputs = {"feat_index": index, "feat_value": np.ones((BATCH, FIELDS), np.float32)}
    model(inputs, training=True)  # builds every weight
    output_layer.activation = tf.keras.activations.linear  # the model returns its logit
    embeddings = rng.normal(0, 1, (BATCH * FIELDS, DIM)).astype(np.float32)
    named = weights_of(model)
    randomise([v for k, v in named.items() if not k.endswith("/indices")], rng)
    for key in [k for k in named if k.endswith("/alpha")]:  # keep ICS in its working range
        named[key].assign(rng.uniform(0.05, 0.6, named[key].shape).astype(np.float32))
    for key in [k for k in named if k.endswith("/gamma") or k.endswith("/scale")]:
        named[key].assign((1 + rng.normal(0, 0.3, named[key].shape)).astype(np.float32))
    model.feature_embedding.embeddings.assign(embeddings)
    labels = rng.integers(0, 2, (BATCH, 1)).astype(np.float32)
    trainable = [v for k, v in named.items() if not k.endswith("/indices")] + [model.feature_embedding.embeddings]
    with tf.GradientTape() as tape:
        logits = model(inputs, training=True)
        loss = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits))
    gradients = tape.gradient(loss, trainable)
    out = {"inputs": embeddings.reshape(BATCH, FIELDS, DIM), "labels": labels, "logits": logits.numpy(),
           "loss": np.float32(loss.numpy()), "grad/inputs": tf.convert_to_tensor(gradients[-1]).numpy()
           .reshape(BATCH, FIELDS, DIM)}
    for (key, variable), gradient in zip([(k, v) for k, v in named.items() if not k.endswith("/indices")],
                                         gradients[:-1]):
        out[f"weight/{key}"] = variable.numpy()
        out[f"grad/{key}"] = tf.convert_to_tensor(gradient).numpy()
    for key in [k for k in named if k.endswith("/indices")]:
        out[key] = np.asarray(named[key].numpy())
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ssrnet", required=True, help="a checkout of the authors' SSRNet repository")
    parser.add_argument("--out", default="tests/fixtures/ssr_parity.npz")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    if not os.path.isfile(os.path.join(args.ssrnet, "models", "model_ssrnet_t.py")):
        sys.exit(f"--ssrnet: {args.ssrnet!r} has no models/model_ssrnet_t.py (a checkout of SSRNet expected)")
    sys.path.insert(0, os.path.abspath(args.ssrnet))
    import tensorflow as tf
    from models.model_ssrnet import SSRNet
    from models.model_ssrnet_t import SSRNetT

    tf.keras.utils.set_random_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    fixtures = {}
    for name, gate in (("ssr_d", True), ("ssr_d_ungated", False)):
        model = SSRNetT(feature_size=BATCH * FIELDS, field_size=FIELDS, embedding_size=DIM,
                        tokennum_list=[VIEWS, VIEWS], hidden_unit_list=[VIEW_DIM, VIEW_DIM],
                        out_unit_list=[VIEW_DIM, VIEW_DIM], top_k_list=[VIEW_DIM, VIEW_DIM], iterations=ITERATIONS,
                        alpha_inits=[0.1, 0.1], scale_inits=[1.0, 1.0], use_gate=gate, use_block_dense=gate,
                        use_block_mean_pooling=False, block_version="t21", dropout_rates=[0.0, 0.0, 0.0])
        fixtures.update({f"{name}/{k}": v for k, v in
                         record(tf, model, ssr_d_weights, model.prediction_layer, rng).items()})
    model = SSRNet(feature_size=BATCH * FIELDS, field_size=FIELDS, embedding_size=DIM, b_matrices=[VIEWS, VIEWS],
                   d_mid_cols=[VIEW_DIM, VIEW_DIM], out_units=[VIEW_DIM, VIEW_DIM], num_hidden_layers=2,
                   has_residual=True, use_uniformly_indices=True, input_emb_norm="bn",
                   use_block_mean_pooling=False, dropout_rates=[0.0, 0.0, 0.0])
    fixtures.update({f"ssr_s/{k}": v for k, v in
                     record(tf, model, ssr_s_weights, model.prediction_layer.layers[-1], rng).items()})
    fixtures["shape"] = np.array([BATCH, FIELDS, DIM, VIEWS, VIEW_DIM, ITERATIONS])
    fixtures["tensorflow_version"] = np.array(tf.__version__)
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    np.savez_compressed(args.out, **fixtures)
    print(f"{args.out}: {len(fixtures)} arrays, {os.path.getsize(args.out):,} bytes (TensorFlow {tf.__version__})")


if __name__ == "__main__":
    main()
