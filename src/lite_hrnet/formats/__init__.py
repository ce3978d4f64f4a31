"""Readers of the data sets' annotation files, shared by ``data`` and ``metrics``."""
