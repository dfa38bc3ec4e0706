"""Compatibility front ends over Ember's graph mode: ``import ember.compat.tf as tf`` runs TF-1 scripts."""
