"""Analyses of trained models: implicit sparsity of dense layers, ICS activity."""
