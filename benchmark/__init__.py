"""The benchmark: command line, Hydra configs, datasets, training, suites, launcher, store
and reports. Depends on `models`, `baselines` and `evaluation`; nothing depends on it."""
import os

# Idle OpenMP threads sleep instead of spinning. A training step is ~1,700 small ops; on a
# small machine shared with another job (a SLURM array on one node, tests beside a run),
# spinning threads starve each other: measured on the 2-core CI machine under load, a
# 6-block 128² step took 20.3 s with spinning threads and 8.3 s with passive ones. Must be set
# before torch loads its OpenMP runtime; an explicit setting by the user wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
