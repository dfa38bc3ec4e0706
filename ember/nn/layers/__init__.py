"""Layers: one small module per file (import them from ``ember.nn``)."""
