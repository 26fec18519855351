"""`benchmark perf`: how fast a training step and each part of scoring run on this device, with
a peak probe beside every row. Reached only from the command line."""
