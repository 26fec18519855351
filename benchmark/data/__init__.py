"""Datasets: every source opens as a `DomainPair` of two image `Domain`s X and Y.

`open_domains(dataset_cfg, split)` is the entry point; `iteration` turns a pair into the
training sample stream and the test datasets; `transforms` holds the augmentation.
"""
from .cityscapes_native import prepare_cityscapes
from .domains import Domain, DomainPair, open_domains
from .errors import (AlignedPairError, DatasetConfigError, DatasetNotFoundError, ImageReadError,
                     LabelColourError)
from .iteration import TestDomain, TestPairs, UnpairedIterations, iteration_sampler
from .transforms import (paired_train_transform, test_transform, to_image, to_tensor,
                         train_transform)

__all__ = [
    "AlignedPairError", "DatasetConfigError", "DatasetNotFoundError", "Domain", "DomainPair",
    "ImageReadError", "LabelColourError", "TestDomain", "TestPairs", "UnpairedIterations",
    "iteration_sampler", "open_domains", "paired_train_transform", "prepare_cityscapes",
    "test_transform", "to_image", "to_tensor", "train_transform",
]
