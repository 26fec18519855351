"""`python -m benchmark ...`: the `benchmark` command, for environments where its console
script is not on PATH (a venv not activated, a SLURM job's bare python)."""
import sys

from benchmark.cli import main

if __name__ == "__main__":
    sys.exit(main())
