"""Inference helpers on trained task modules."""
