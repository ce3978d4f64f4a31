"""Data sets in their real layouts, transforms and LightningDataModules. No Hydra here."""
