"""Generators that write synthetic data in the real data-set formats."""
