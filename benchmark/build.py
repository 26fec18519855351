"""Model construction from config: a registry of families, each rebuilt from its config alone.

`model.family` names the class. The CycleGAN family covers the ablations; the baselines add
their own entries (baselines/__init__.py exports BASELINES).
"""
from __future__ import annotations

from models.base import TranslationModel
from models.cyclegan import CycleGANFamily

MODEL_FAMILIES: dict[str, type] = {"cyclegan": CycleGANFamily}
try:  # the baselines are optional members of the registry
    from baselines import BASELINES  # type: ignore[attr-defined]
    MODEL_FAMILIES.update(BASELINES)
except ImportError:
    pass


def build_model(cfg) -> TranslationModel:
    """The model of a root config (`model`, `network`, `seed`), weights initialised."""
    family = cfg.model.family
    if family not in MODEL_FAMILIES:
        raise ValueError(f"model.family={family!r}: valid families are {', '.join(sorted(MODEL_FAMILIES))}")
    return MODEL_FAMILIES[family].from_config(cfg.model, cfg.network, seed=int(cfg.seed))
