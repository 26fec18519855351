"""One run: train it (train, loss_buffer, checkpoint, samples, cost), keep it (store), and score
it (evaluate, fid_scoring, per_image). Knows nothing about suites or reports."""
