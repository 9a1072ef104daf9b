"""Losses: zero for identical images with finite gradients, VGG loading, confidence, schedule."""

from __future__ import annotations

import pytest
import torch

from tempo_core.training import losses
from tempo_core.training.losses import (
    LossConfig,
    TempoLoss,
    VGGPerceptualLoss,
    build_vgg_features,
    census_loss,
    charbonnier_loss,
    confidence_loss,
    frequency_loss,
)


def images(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    target = torch.rand(2, 3, 32, 32, generator=gen)
    other = (target + 0.2 * torch.randn(2, 3, 32, 32, generator=gen)).clamp(0, 1)
    return target, other


def fake_vgg_file(path, arch="vgg16"):
    """A torchvision-format VGG state dict (random weights; classifier keys as in the real file)."""
    gen = torch.Generator().manual_seed(0)
    shapes = build_vgg_features(arch, device="meta").state_dict()
    state = {f"features.{k}": 0.05 * torch.randn(v.shape, generator=gen) for k, v in shapes.items()}
    state["classifier.0.weight"] = torch.zeros(4, 4)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path)
    return path


@pytest.mark.parametrize("loss_fn", [charbonnier_loss, frequency_loss, census_loss])
def test_pixel_losses_zero_for_identical_images_with_finite_gradients(loss_fn):
    target, other = images()
    pred = target.clone().requires_grad_(True)
    value = loss_fn(pred, target)
    value.backward()
    assert float(value.detach()) == pytest.approx(0.0, abs=1e-7)
    assert torch.isfinite(pred.grad).all()
    pred = other.clone().requires_grad_(True)
    value = loss_fn(pred, target)
    value.backward()
    assert float(value.detach()) > 1e-3 and torch.isfinite(pred.grad).all() and pred.grad.abs().sum() > 0


def test_perceptual_loss_loads_torchvision_state_dict(tmp_path):
    weights = fake_vgg_file(tmp_path / "vgg16-test.pth")
    vgg = VGGPerceptualLoss(weights)
    assert vgg.available and "vgg16" in vgg.source
    target, other = images(1)
    pred = target.clone().requires_grad_(True)
    value = vgg(pred, target)
    value.backward()
    assert float(value.detach()) == 0.0 and torch.isfinite(pred.grad).all()
    pred = other.clone().requires_grad_(True)
    value = vgg(pred, target)
    value.backward()
    assert float(value.detach()) > 0 and torch.isfinite(pred.grad).all()
    assert not any(p.requires_grad for p in vgg.parameters())


def test_perceptual_loss_found_in_hub_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.delenv("TEMPO_VGG_WEIGHTS", raising=False)
    fake_vgg_file(tmp_path / "hub" / "checkpoints" / "vgg19-dcbb9e9d.pth", "vgg19")
    vgg = VGGPerceptualLoss()
    assert vgg.available and vgg.source.startswith("vgg19")


def test_missing_vgg_says_so_once_and_is_recorded(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.delenv("TEMPO_VGG_WEIGHTS", raising=False)
    monkeypatch.setattr(losses, "_WARNED", set())
    loss = TempoLoss(LossConfig())
    TempoLoss(LossConfig())
    err = capsys.readouterr().err
    assert err.count("perceptual loss disabled") == 1 and "no VGG16/VGG19 weights" in err
    assert loss.perceptual_status["enabled"] is False
    assert "no VGG16/VGG19 weights" in loss.perceptual_status["reason"]
    assert "perceptual" not in loss.active_terms(epoch=50)


def test_confidence_loss_is_zero_when_confidence_predicts_quality():
    target, other = images(2)
    pred = other.clone().requires_grad_(True)
    err = (other - target).abs().mean(1, keepdim=True)
    right = torch.exp(-err / 0.05).requires_grad_(True)
    value = confidence_loss(right, pred, target, tau=0.05)
    value.backward()
    assert float(value.detach()) == pytest.approx(0.0, abs=1e-5)
    assert torch.isfinite(right.grad).all() and pred.grad is None  # error is detached
    wrong = (1 - right.detach()).requires_grad_(True)
    worse = confidence_loss(wrong, other, target, tau=0.05)
    worse.backward()
    assert float(worse.detach()) > 0.1 and torch.isfinite(wrong.grad).all()
    # identical images: quality is 1 everywhere, a confident map has (nearly) zero loss
    assert float(confidence_loss(torch.ones(2, 1, 32, 32), target, target)) < 1e-4


def test_schedule_and_weights(tmp_path):
    config = LossConfig.parse_weights(
        "perceptual=0.2,census=0.5",
        LossConfig(vgg_weights=str(fake_vgg_file(tmp_path / "vgg16.pth"))),
    )
    loss = TempoLoss(config)
    assert loss.active_terms(0) == loss.active_terms(4) == ["charbonnier"]
    assert loss.active_terms(5) == loss.active_terms(19) == ["charbonnier", "perceptual"]
    assert loss.active_terms(20) == ["charbonnier", "perceptual", "frequency", "census"]
    target, other = images(3)
    pred = other.clone().requires_grad_(True)
    aux = {"confidence": torch.full((2, 1, 32, 32), 0.5, requires_grad=True)}
    total, parts = loss(pred, target, aux, epoch=25)
    total.backward()
    assert set(parts) == {"charbonnier", "perceptual", "frequency", "census", "confidence"}
    expected = sum(getattr(config, k) * v for k, v in parts.items())
    assert float(total.detach()) == pytest.approx(expected, rel=1e-5)
    assert torch.isfinite(pred.grad).all() and torch.isfinite(aux["confidence"].grad).all()
    total, parts = loss(target.clone(), target, None, epoch=25)
    assert float(total.detach()) == pytest.approx(0.0, abs=1e-6)
    with pytest.raises(ValueError):
        LossConfig.parse_weights("bogus=1")
