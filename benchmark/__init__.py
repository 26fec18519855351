"""The benchmark: command line, Hydra configs, datasets, training, suites, launcher, store
and reports. Depends on `models`, `baselines` and `evaluation`; nothing depends on it."""
