"""Experiment reports: the README table and plot of a Hydra multirun folder."""
