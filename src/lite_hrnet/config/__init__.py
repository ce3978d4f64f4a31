"""The run's typed configuration: ``schema`` (the run around the task, data and model
configs, which live with the code that uses them), ``launchers`` (the Hydra launcher
defaults) and ``store`` (the ConfigStore registration, the only module here that imports
Hydra)."""
