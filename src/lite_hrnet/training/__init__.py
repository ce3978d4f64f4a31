"""The Hydra-free training run: ``run.run_training``, its loggers and callbacks, and the job
records that sweeps and reports read."""
