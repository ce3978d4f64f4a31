"""Test support shipped with the package, for the tests and the benchmarks: the official
Lite-HRNet control flow as an oracle, and weight randomisers."""
