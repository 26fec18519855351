"""Many runs as one table: plan the runs of a suite, launch them (here, as submitit local jobs,
or as a SLURM array, several to a GPU), and write the suite's report from the store."""
