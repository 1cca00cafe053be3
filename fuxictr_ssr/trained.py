"""A trained experiment, loaded back for ``sparsity``, ``predict`` and ``export``: its model over
the feature map of the data folder it was trained on, its checkpoint's weights, and the fitted
feature processor that turns raw rows into that model's inputs.

Nothing is preprocessed here: a run that trained the checkpoint built the data folder
(``feature_map.json``, ``feature_processor.pkl``), and scoring must use exactly that encoding, so a
folder without them is an error, not a reason to build a new one from the raw files.
"""
import functools
import os
import pickle
from dataclasses import dataclass

import torch

from .experiment import Experiment


def read_checkpoint(checkpoint):
    """The state dict saved at ``checkpoint``; ``ValueError`` for anything else."""
    if not os.path.isfile(checkpoint):
        raise ValueError(f"--checkpoint: {checkpoint!r} does not exist (train the experiment first, or pass "
                         "the .model file a run saved)")
    try:
        state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    except Exception as error:  # pickle, zip and torch errors alike: the file is not a saved state dict
        raise ValueError(f"--checkpoint: {checkpoint!r} is not a model checkpoint saved by a run "
                         f"({type(error).__name__})") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"--checkpoint: {checkpoint!r} holds no state dict of tensors")
    return state


def check_checkpoint_fits(model, state, checkpoint, expid):
    """Name what differs between ``state`` and ``model``: another experiment's checkpoint (other
    layers or widths) or another feature map's (other vocabulary sizes: the embedding tables)."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    shapes = [f"{k} {tuple(state[k].shape)} vs {tuple(v.shape)}" for k, v in expected.items()
              if k in state and state[k].shape != v.shape]
    if missing or unexpected or shapes:
        found = "; ".join(f"{what} {items[:3]}" + (f" (+{len(items) - 3})" if len(items) > 3 else "")
                          for what, items in (("missing", missing), ("unexpected", unexpected),
                                              ("shapes (saved vs model)", shapes)) if items)
        tables = any(".embedding_layer." in item for item in missing + unexpected + shapes)
        cause = ("was it trained on another build of the dataset (other vocabularies)?" if tables and not missing
                 and not unexpected else "was it saved by another experiment?")
        raise ValueError(f"--checkpoint: {checkpoint!r} does not fit experiment {expid!r} "
                         f"({type(model).__name__}): {found}; {cause}")


def load_processor(folder):
    """The feature processor fitted when ``folder`` was built (``feature_processor.pkl``)."""
    path = os.path.join(folder, "feature_processor.pkl")
    if not os.path.isfile(path):
        raise ValueError(f"{path!r} not found: the data folder holds no fitted feature processor (run the experiment "
                         "once, which builds it, or point --data-root at the folder the model was trained with)")
    try:
        with open(path, "rb") as handle:
            return pickle.load(handle)
    except Exception as error:  # a truncated or foreign pickle
        raise ValueError(f"{path!r}: cannot read the fitted feature processor ({type(error).__name__}: {error}); "
                         "rebuild the data folder (delete its feature_map.json) and retrain") from None


@dataclass
class Trained:
    """A trained experiment: ``model`` (eval mode, checkpoint loaded), its ``feature_map``, the
    resolved ``experiment``, the ``checkpoint`` path, and (read when first asked for) the fitted
    ``processor``."""
    experiment: Experiment
    feature_map: object
    model: torch.nn.Module
    checkpoint: str

    @functools.cached_property
    def processor(self):
        return load_processor(self.experiment.data.folder)


def load_trained(config_dir, expid, checkpoint=None, data_root=None, gpu=-1, overrides=None):
    """Load ``expid`` as its run left it. ``checkpoint`` defaults to the run's own
    (``<model_root>/<dataset_id>/<expid>.model``); ``overrides`` replace config keys that do not
    change the weights (``{"compile": False}``, ``batch_size``, ...)."""
    from fuxictr.features import FeatureMap

    from .data.h5_store import load_feature_map
    from .data.manifest import read_json_file
    from .distributed import check_gpu

    check_gpu(gpu)
    experiment = Experiment.load(config_dir, expid, overrides={"log_to_console": False, **(overrides or {})},
                                 data_root=data_root, gpu=gpu)
    params, plan = experiment.params, experiment.data
    checkpoint = checkpoint or os.path.join(params["model_root"], params["dataset_id"], f"{params['model_id']}.model")
    state = read_checkpoint(checkpoint)
    if not os.path.isfile(plan.feature_map_path):
        raise ValueError(f"{plan.feature_map_path!r} not found: experiment {expid!r} has no built data folder here "
                         "(run it first, or pass --data-root with the data root it was trained with)")
    read_json_file(plan.feature_map_path)  # a damaged file is named
    feature_map = load_feature_map(FeatureMap(params["dataset_id"], plan.folder), plan.feature_map_path, params)
    model = experiment.model_class(feature_map, **params)
    check_checkpoint_fits(model, state, checkpoint, expid)
    model.load_state_dict(state)
    model.eval()
    return Trained(experiment, feature_map, model, os.path.abspath(checkpoint))
