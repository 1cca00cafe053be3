"""Training FLOPs per sample of a built model: the floating-point operations of one training
step's forward and backward pass, counted by torch's ``FlopCounterMode`` (matrix products,
convolutions, attention: the operations whose count grows with the model's width; lookups,
elementwise ops and the optimizer step are not counted), divided by the batch size."""
import torch
from torch.utils.flop_counter import FlopCounterMode

from .serving import example_inputs, serving_inputs


def training_flops_per_sample(model, feature_map, batch_size=64, seed=0):
    """FLOPs of forward + backward per sample, on random valid inputs in train mode; the model's
    gradients and BatchNorm statistics are left as they were."""
    names = [name for name, _ in serving_inputs(feature_map)]
    batch = dict(zip(names, example_inputs(feature_map, batch_size, seed)))
    batch[feature_map.labels[0]] = torch.zeros(batch_size)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    was_training = model.training
    model.train()
    with FlopCounterMode(display=False) as counter:
        probability = model(batch)["y_pred"].float()
        torch.nn.functional.binary_cross_entropy(probability, torch.full_like(probability, 0.5)).backward()
    model.zero_grad(set_to_none=True)
    model.load_state_dict(state)
    model.train(was_training)
    return counter.get_total_flops() / batch_size
