"""The ``lite-hrnet`` command line: one subcommand per module in this package."""
