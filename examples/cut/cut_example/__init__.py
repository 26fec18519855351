"""CUT and FastCUT for the CycleGAN benchmark suite, from outside its packages.

A model YAML names the class by import path (`family: cut_example.models:CUT`); this package
only has to be importable wherever a run is built: the CLI, a submitit job, a SLURM job.
"""
from cut_example.models import CUT

__all__ = ["CUT"]
