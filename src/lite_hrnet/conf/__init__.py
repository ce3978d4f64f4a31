"""Hydra configuration files shipped with the package."""
