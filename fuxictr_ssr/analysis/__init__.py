"""Analyses of models that the models and the commands both use: implicit sparsity of dense
layers (:mod:`.weight_sparsity`), ICS activity (:mod:`.ics_activity`)."""
