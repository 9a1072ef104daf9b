"""The training loss: Charbonnier + perceptual (VGG) + frequency (FFT) + census, plus confidence.

``Total = w_c*Charbonnier + w_p*Perceptual + w_f*Frequency + w_s*Census (+ w_k*Confidence)``

Schedule (the seed's, 0-based epochs, configurable): epochs ``< perceptual_from`` (5) use the
reconstruction term only; from ``perceptual_from`` the perceptual term joins; from ``full_from``
(20) all terms. The confidence term (always on, small weight) teaches ``aux["confidence"]`` to
predict per-pixel quality: its target is ``exp(-|err| / tau)`` with the error detached.

VGG weights are never downloaded. :class:`VGGPerceptualLoss` builds torchvision's VGG16/19
``features`` layers in plain torch and loads a torchvision-format state dict from ``--vgg_weights``,
``$TEMPO_VGG_WEIGHTS`` or the torch hub cache (``<hub>/checkpoints/vgg16-*.pth``). When none is
found it says so once, disables itself, and the trainer records that in the run config.
"""

from __future__ import annotations

import os
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# torchvision's VGG configurations ("M" = max-pool) and the ReLU outputs we compare
VGG_CFG = {
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M"],
    "vgg19": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M"],
}
VGG_LAYERS = {"vgg16": (3, 8, 15, 22), "vgg19": (3, 8, 17, 26)}  # relu1_2 .. relu4_x


def charbonnier_loss(pred: torch.Tensor, target: torch.Tensor, eps: float = 1e-3) -> torch.Tensor:
    """Smooth L1: ``mean(sqrt(d^2 + eps^2) - eps)``; exactly 0 for identical images."""
    diff = (pred - target).float()
    return (torch.sqrt(diff * diff + eps * eps) - eps).mean()


def frequency_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """L1 between the real and imaginary parts of the orthonormal 2-D FFTs (computed in fp32)."""
    with torch.autocast(device_type=pred.device.type, enabled=False):
        diff = torch.fft.rfft2(pred.float() - target.float(), norm="ortho")
        return torch.view_as_real(diff).abs().mean()


def _gray(image: torch.Tensor) -> torch.Tensor:
    r, g, b = image.unbind(1)
    return (0.299 * r + 0.587 * g + 0.114 * b).unsqueeze(1)


def _ternary(gray: torch.Tensor, patch: int) -> torch.Tensor:
    """Soft census transform: each neighbour's difference to the centre, squashed to (-1, 1)."""
    kernel = torch.eye(patch * patch, device=gray.device, dtype=gray.dtype)
    kernel = kernel.view(patch * patch, 1, patch, patch)
    neighbours = F.conv2d(gray, kernel, padding=patch // 2)
    diff = neighbours - gray
    return diff / torch.sqrt(0.81 + diff * diff)


def census_loss(pred: torch.Tensor, target: torch.Tensor, patch: int = 7) -> torch.Tensor:
    """Soft Hamming distance of 7x7 census transforms (edge/texture structure), border masked."""
    with torch.autocast(device_type=pred.device.type, enabled=False):
        t_pred = _ternary(_gray(pred.float() * 255.0), patch)
        t_target = _ternary(_gray(target.float() * 255.0), patch)
        dist = (t_pred - t_target) ** 2
        dist = (dist / (0.1 + dist)).mean(1, keepdim=True)
        pad = patch // 2
        return dist[..., pad:-pad, pad:-pad].mean() if min(dist.shape[-2:]) > 2 * pad else dist.mean()


def confidence_loss(
    confidence: torch.Tensor, pred: torch.Tensor, target: torch.Tensor, tau: float = 0.05
) -> torch.Tensor:
    """Confidence [B,1,H,W] should equal ``exp(-mean_c|pred - target| / tau)`` (error detached).

    Binary cross-entropy minus the target's own entropy (a KL divergence), so the loss is 0 when
    the confidence is exactly right and its gradient reaches only the confidence branch.
    """
    with torch.autocast(device_type=confidence.device.type, enabled=False):
        err = (pred.detach().float() - target.float()).abs().mean(1, keepdim=True)
        quality = torch.exp(-err / tau)
        conf = confidence.float().clamp(1e-6, 1 - 1e-6)
        q = quality.clamp(1e-6, 1 - 1e-6)
        bce = F.binary_cross_entropy(conf, quality, reduction="none")
        entropy = -(q * q.log() + (1 - q) * (1 - q).log())
        return (bce - entropy).clamp_min(0).mean()


# ----------------------------------------------------------------------------- VGG
def build_vgg_features(arch: str = "vgg16", last_layer: int | None = None, device: str | None = None) -> nn.Sequential:
    """torchvision's ``vgg16().features`` / ``vgg19().features`` (same indices).

    Cut after index ``last_layer``; ``device="meta"`` skips the random init before loading.
    """
    layers: list[nn.Module] = []
    channels = 3
    for item in VGG_CFG[arch]:
        if item == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            conv = nn.Conv2d(channels, int(item), 3, padding=1, device=device)
            layers += [conv, nn.ReLU(inplace=False)]
            channels = int(item)
    if last_layer is not None:
        layers = layers[: last_layer + 1]
    return nn.Sequential(*layers)


def find_vgg_weights(explicit: str | os.PathLike | None = None) -> tuple[Path | None, list[str]]:
    """The first VGG16/19 state dict found, and the places looked at (for the message)."""
    looked: list[str] = []
    for candidate in (explicit, os.environ.get("TEMPO_VGG_WEIGHTS")):
        if candidate:
            looked.append(str(candidate))
            if Path(candidate).is_file():
                return Path(candidate), looked
    hub = Path(torch.hub.get_dir()) / "checkpoints"
    looked.append(f"{hub}/vgg16-*.pth, vgg19-*.pth")
    for pattern in ("vgg16-*.pth", "vgg16*.pth", "vgg19-*.pth", "vgg19*.pth"):
        found = sorted(hub.glob(pattern)) if hub.is_dir() else []
        if found:
            return found[0], looked
    return None, looked


_WARNED: set[str] = set()


class VGGPerceptualLoss(nn.Module):
    """Mean L1 between ImageNet-normalized VGG ReLU features (relu1_2 .. relu4_x), frozen.

    ``available`` is False (and ``reason`` says why) when no weights were found or they did not
    fit; the loss then returns 0 and must not be counted as used.
    """

    def __init__(self, weights: str | os.PathLike | None = None, arch: str | None = None) -> None:
        super().__init__()
        self.available, self.reason, self.source = False, "", ""
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.features: nn.Sequential | None = None
        path, looked = find_vgg_weights(weights)
        if path is None:
            self._disable(f"no VGG16/VGG19 weights were found (looked in {'; '.join(looked)})")
            return
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
            state = state.get("state_dict", state) if isinstance(state, dict) else state
            arch = arch or ("vgg19" if "vgg19" in path.name.lower() else "vgg16")
            self.layers = VGG_LAYERS[arch]
            self.features = build_vgg_features(arch, self.layers[-1], device="meta")
            wanted = self.features.state_dict().keys()
            picked = {k: state[f"features.{k}"] if f"features.{k}" in state else state[k] for k in wanted}
            self.features.load_state_dict(picked, assign=True)
        except (KeyError, RuntimeError, OSError, ValueError) as err:
            self.features = None
            self._disable(f"the VGG weights in {path} could not be loaded ({type(err).__name__}: {err})")
            return
        self.features.requires_grad_(False).eval()
        self.available, self.source = True, f"{arch} from {path}"

    def _disable(self, reason: str) -> None:
        self.reason = f"perceptual loss disabled: {reason}"
        if self.reason not in _WARNED:
            _WARNED.add(self.reason)
            print(f"tempo: {self.reason}. Training continues without it.", file=sys.stderr)

    def train(self, mode: bool = True) -> VGGPerceptualLoss:
        super().train(mode)
        if self.features is not None:
            self.features.eval()  # always frozen
        return self

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if self.features is None:
            return pred.new_zeros(())
        x = torch.cat([pred, target]).sub(self.mean).div(self.std)
        loss = pred.new_zeros((), dtype=torch.float32)
        for index, layer in enumerate(self.features):
            x = layer(x)
            if index in self.layers:
                a, b = x.float().chunk(2)
                loss = loss + (a - b.detach()).abs().mean()
        return loss / len(self.layers)


# ----------------------------------------------------------------------------- combined
@dataclass
class LossConfig:
    """Weights and schedule of :class:`TempoLoss` (0-based epochs)."""

    charbonnier: float = 1.0
    perceptual: float = 0.1
    frequency: float = 0.05
    census: float = 0.1
    confidence: float = 0.005
    confidence_tau: float = 0.05
    perceptual_from: int = 5
    full_from: int = 20
    vgg_weights: str | None = None

    @classmethod
    def parse_weights(cls, text: str, base: LossConfig | None = None) -> LossConfig:
        """``"charbonnier=1,perceptual=0.1"`` -> a config with those weights changed."""
        values = asdict(base or cls())
        for item in filter(None, (s.strip() for s in text.split(","))):
            name, _, value = item.partition("=")
            if name.strip() not in (
                "charbonnier",
                "perceptual",
                "frequency",
                "census",
                "confidence",
            ):
                raise ValueError(f"unknown loss term {name!r}")
            values[name.strip()] = float(value)
        return cls(**values)


class TempoLoss(nn.Module):
    """All terms, weighted and scheduled. ``forward`` returns ``(total, {term: value})``."""

    def __init__(self, config: LossConfig | None = None) -> None:
        super().__init__()
        self.config = config or LossConfig()
        self.perceptual = VGGPerceptualLoss(self.config.vgg_weights) if self.config.perceptual > 0 else None

    @property
    def perceptual_status(self) -> dict[str, object]:
        if self.perceptual is None:
            return {"enabled": False, "reason": "weight is 0"}
        if not self.perceptual.available:
            return {"enabled": False, "reason": self.perceptual.reason}
        return {"enabled": True, "source": self.perceptual.source}

    def active_terms(self, epoch: int) -> list[str]:
        c = self.config
        terms = ["charbonnier"]
        if epoch >= c.perceptual_from and self.perceptual is not None and self.perceptual.available:
            terms.append("perceptual")
        if epoch >= c.full_from:
            terms += ["frequency", "census"]
        return [t for t in terms if getattr(c, t) > 0]

    def forward(
        self, pred: torch.Tensor, target: torch.Tensor, aux: dict | None = None, epoch: int = 0
    ) -> tuple[torch.Tensor, dict[str, float]]:
        c = self.config
        parts: dict[str, torch.Tensor] = {}
        for term in self.active_terms(epoch):
            if term == "charbonnier":
                parts[term] = charbonnier_loss(pred, target)
            elif term == "perceptual":
                parts[term] = self.perceptual(pred, target)
            elif term == "frequency":
                parts[term] = frequency_loss(pred, target)
            elif term == "census":
                parts[term] = census_loss(pred, target)
        if c.confidence > 0 and aux is not None and "confidence" in aux:
            parts["confidence"] = confidence_loss(aux["confidence"], pred, target, c.confidence_tau)
        total = pred.new_zeros((), dtype=torch.float32)
        for name, value in parts.items():
            total = total + getattr(c, name) * value
        return total, {name: float(value.detach()) for name, value in parts.items()}
