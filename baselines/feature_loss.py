"""Feature loss + GAN (CycleGAN paper, Sec. 5.1.2): SimGAN with the L1 taken on deep features.

    G: X -> Y   L_GAN(G, D_Y) + λ·‖φ(x) − φ(G(x))‖₁      (and F: Y -> X alike)

φ is a frozen ImageNet network: VGG-16 relu4_2 as in the paper (`model=feature_loss`), or the
FID Inception at a mixed layer (`model=feature_loss_inception`, for machines that hold those
weights but not VGG's). φ is deliberately NOT a submodule: it is in no optimiser, not in the
checkpoint (its weights are an input, like the data), untouched by `model.train()`, and never
built with random weights. It is loaded at the first training step, and `benchmark train`
calls `check_training_requirements` before any step: both take the file from disk, or download
it when the host answers a short probe, or fail in seconds with one line naming
`model.feature_net.weights_path`.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as nnf

from baselines import feature_nets
from baselines.simgan import SimGAN


class FeatureLossGAN(SimGAN):
    """SimGAN whose self-regularisation compares φ(input) with φ(output)."""

    regulariser_name = "feature_reg"

    def __init__(self, network_cfg, *, feature_net_cfg, **kwargs) -> None:
        super().__init__(network_cfg, **kwargs)
        self.feature_arch = str(feature_net_cfg.arch)
        if self.feature_arch not in feature_nets.ARCHS:
            raise ValueError(f"model.feature_net.arch={self.feature_arch!r}: valid architectures "
                             f"are {', '.join(feature_nets.ARCHS)}")
        self.feature_weights_path = feature_net_cfg.get("weights_path")
        self.feature_layer = feature_net_cfg.get("layer")
        self.feature_input_size = int(feature_net_cfg.get("input_size") or 128)
        self.download_timeout_s = float(feature_net_cfg.get("download_timeout_s") or 5.0)
        self._feature_net: nn.Module | None = None  # a plain attribute: not a submodule (see above)

    @classmethod
    def from_config(cls, model_cfg, network_cfg, *, seed: int) -> FeatureLossGAN:
        return cls(network_cfg, feature_net_cfg=model_cfg.feature_net,
                   lambda_reg=float(model_cfg.lambda_reg), gan_mode=model_cfg.gan_mode,
                   pool_size=int(model_cfg.pool_size), seed=seed)

    @staticmethod
    def check_training_requirements(model_cfg) -> None:
        """Before training: the feature weights are on disk or fetched now, else one clear line."""
        fn = model_cfg.feature_net
        feature_nets.fetch_weights(str(fn.arch), fn.get("weights_path"),
                                   timeout_s=float(fn.get("download_timeout_s") or 5.0))

    @property
    def feature_net(self) -> nn.Module:
        """φ, loaded on first use (frozen, eval mode): a model that never trains never needs it."""
        if self._feature_net is None:
            # on disk, else downloaded now, else one line naming the option (a short probe first)
            path = feature_nets.fetch_weights(self.feature_arch, self.feature_weights_path,
                                              timeout_s=self.download_timeout_s)
            phi = feature_nets.build_feature_net(
                self.feature_arch, path, layer=self.feature_layer, input_size=self.feature_input_size)
            # object.__setattr__: nn.Module's would register φ as a submodule (state_dict, .train())
            object.__setattr__(self, "_feature_net", phi)
        return self._feature_net

    def regulariser(self, source: torch.Tensor, translated: torch.Tensor) -> torch.Tensor:
        phi = self.feature_net
        device = translated.device
        if next(phi.parameters()).device != device:
            phi.to(device)
        with torch.no_grad():
            target = phi(source)
        return nnf.l1_loss(phi(translated).float(), target.float())
