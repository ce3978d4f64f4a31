"""LightningModules: one per task, all on the shared backbone. No Hydra here."""
