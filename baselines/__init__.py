"""The methods CycleGAN was compared with (Sec. 5.1.2, Tables 1-3), as TranslationModels.

Each is one file, rebuilt from `model=<name>` like the CycleGAN presets, translating both
directions in one run. `BASELINES` (family -> class) is merged into benchmark/model_registry.py's
registry; the configs are benchmark/conf/model/<name>.yaml.
"""
from __future__ import annotations

from baselines.bigan import BiGAN
from baselines.cogan import CoGAN
from baselines.feature_loss import FeatureLossGAN
from baselines.pix2pix import Pix2Pix
from baselines.simgan import SimGAN

BASELINES: dict[str, type] = {
    "cogan": CoGAN,
    "bigan": BiGAN,
    "simgan": SimGAN,
    "feature_loss": FeatureLossGAN,
    "pix2pix": Pix2Pix,
}

__all__ = ["BASELINES", "BiGAN", "CoGAN", "FeatureLossGAN", "Pix2Pix", "SimGAN"]
