"""Typed run configuration: plain dataclasses (``schema``) and builders that turn them
into Lightning objects (``build``). Only ``store`` imports Hydra."""
