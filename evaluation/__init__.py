"""Scoring for image-to-image translation: label definitions, segmentation metrics, the
segmentation evaluator and FID/KID. Knows nothing about how models are trained."""
