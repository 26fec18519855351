"""Datasets: every source opens as a `DomainPair` of two image `Domain`s X and Y.

`open_domains(dataset_cfg, split)` (registry.py, the one module that knows every source) is
the entry point; `checks` holds the whole-dataset checks; `iteration` turns a pair into the
training sample stream and the test datasets; `transforms` holds the augmentation.
"""
from .checks import check_readable
from .cityscapes_native import prepare_cityscapes
from .domains import Domain, DomainPair
from .errors import (
                     AlignedPairError,
                     DatasetConfigError,
                     DatasetNotFoundError,
                     ImageFormatError,
                     ImageReadError,
                     LabelColourError,
)
from .iteration import TestDomain, TestPairs, UnpairedIterations, iteration_sampler
from .registry import SOURCES, open_domains
from .transforms import paired_train_transform, test_transform, to_image, to_tensor, train_transform

__all__ = [
    "AlignedPairError", "DatasetConfigError", "DatasetNotFoundError", "Domain", "DomainPair",
    "ImageFormatError", "ImageReadError", "LabelColourError", "SOURCES", "TestDomain", "TestPairs",
    "UnpairedIterations", "check_readable",
    "iteration_sampler", "open_domains", "paired_train_transform", "prepare_cityscapes",
    "test_transform", "to_image", "to_tensor", "train_transform",
]
