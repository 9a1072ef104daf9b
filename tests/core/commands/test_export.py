"""`tempo export`: a trained checkpoint, exported to safetensors, loads with identical outputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from tempo_test_clips import moving_texture

from tempo_core.checkpoint import load_model, read_config, read_metadata
from tempo_core.commands import cli
from tempo_core.commands.export import export_checkpoint
from tempo_core.errors import InputError
from tempo_core.inference import Interpolator
from tempo_core.network.config import TempoConfig
from tempo_core.network.model import TempoNet
from tempo_core.training.command import main as train_main


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("export")
    base = np.random.default_rng(1).integers(0, 256, (40, 48, 3), dtype=np.uint8)
    (tmp / "frames").mkdir()
    for i in range(8):
        Image.fromarray(np.roll(base, 3 * i, axis=0)).save(tmp / "frames" / f"{i:03d}.png")
    train_main([
        "--data_root", str(tmp / "frames"), "--preset", "tiny", "--crop", "32",
        "--batch_size", "2", "--max_steps", "2", "--runs_dir", str(tmp / "runs"),
        "--name", "r", "--num_workers", "0", "--n_frames", "2",
    ])  # fmt: skip
    return tmp / "runs" / "r"


def inputs():
    gen = torch.Generator().manual_seed(0)
    frames = torch.rand(1, 2, 3, 32, 64, generator=gen)
    return frames, torch.tensor([[0.0, 1.0]]), torch.tensor([0.25])


def moving_inputs():
    """Inputs like :func:`inputs`, but a smooth texture moving 2 pixels right: the motion is
    well defined, so the motion prior's discrete choices do not hinge on rounding as on noise."""
    frames = moving_texture(2, 32, 64, shift=2, cell=4, margin=4, seed=0)
    return frames, torch.tensor([[0.0, 1.0]]), torch.tensor([0.25])


def test_export_then_load_gives_identical_outputs(run_dir, tmp_path):
    out = tmp_path / "model.safetensors"
    assert cli.main(["export", str(run_dir), "-o", str(out), "--which", "latest"]) == 0
    state = torch.load(run_dir / "checkpoints" / "latest.pt", weights_only=True)
    trained = TempoNet(TempoConfig.from_dict(state["model_config"])).eval()
    trained.load_state_dict(state["ema"])  # the moving average is what gets exported
    loaded = load_model(out)
    assert read_config(out) == trained.config
    assert read_metadata(out)["tempo.step"] == "2"
    assert read_metadata(out)["tempo.weights"] == "ema"
    raw = load_model(export_checkpoint(run_dir, tmp_path / "raw.safetensors", raw=True))
    assert all(torch.equal(v, state["model"][k]) for k, v in raw.state_dict().items())
    with torch.no_grad():
        expected, expected_aux = trained(*inputs())
        got, got_aux = loaded(*inputs())
    assert torch.equal(expected, got)
    assert torch.equal(expected_aux["confidence"], got_aux["confidence"])
    # the inference wrapper needs nothing but the exported file
    interp = Interpolator.from_checkpoint(out, device="cpu")
    frames = [np.full((30, 50, 3), v, np.uint8) for v in (40, 200)]
    result = interp.interpolate(frames, [0.0, 1.0], 0.5)
    assert result.image.shape == (30, 50, 3) and result.confidence.shape == (30, 50)


def test_fp16_export_and_errors(run_dir, tmp_path, capsys):
    out = export_checkpoint(run_dir / "checkpoints" / "best.pt", tmp_path / "half.safetensors", fp16=True)
    reference = load_model(export_checkpoint(run_dir, tmp_path / "full.safetensors"))
    half = load_model(out)
    assert out.stat().st_size < (tmp_path / "full.safetensors").stat().st_size * 0.6
    with torch.no_grad():
        diff = (half(*moving_inputs())[0] - reference(*moving_inputs())[0]).abs()
    assert float(diff.max()) < 0.1 and float(diff.mean()) < 5e-3  # fp16 rounding only
    assert cli.main(["export", str(run_dir), "-o", str(out)]) == 1
    assert "already exists" in capsys.readouterr().err
    assert cli.main(["export", str(tmp_path / "none"), "-o", str(tmp_path / "x.safetensors")]) == 1
    with pytest.raises(InputError):
        export_checkpoint(tmp_path / "none", tmp_path / "y.safetensors")


def test_checkpoint_from_older_network_needs_allow_missing(run_dir, tmp_path, capsys):
    state = torch.load(run_dir / "checkpoints" / "latest.pt", weights_only=True)
    dropped = next(iter(state["model"]))
    for weights in ("model", "ema"):
        del state[weights][dropped]
    torch.save(state, tmp_path / "old.pt")
    with pytest.raises(InputError, match="--allow_missing"):
        export_checkpoint(tmp_path / "old.pt", tmp_path / "a.safetensors")
    out = export_checkpoint(tmp_path / "old.pt", tmp_path / "b.safetensors", allow_missing=True)
    assert dropped in capsys.readouterr().out
    assert set(load_model(out).state_dict()) == set(state["model"]) | {dropped}


def test_a_checkpoint_lacking_keys_or_holding_code_is_one_sentence(tmp_path, capsys):
    # issue 28, item 9: a .pt lacking keys was a KeyError traceback; a pickle of code PyTorch's paragraph
    import argparse

    from tempo_core.network.config import tempo_tiny
    from tempo_core.training.state import CHECKPOINT_FORMAT

    config = tempo_tiny().to_dict()
    torch.save({"format": CHECKPOINT_FORMAT, "model_config": config}, tmp_path / "bare.pt")
    torch.save({"format": CHECKPOINT_FORMAT, "x": argparse.Namespace(a=1)}, tmp_path / "code.pt")
    for name, words in [
        ("bare.pt", "bare.pt lacks model, step, epoch, so it cannot be exported"),
        ("code.pt", "code.pt holds Python objects (argparse.Namespace), not only weights"),
    ]:
        code = cli.main(["export", str(tmp_path / name), "-o", str(tmp_path / "m.safetensors")])
        err = capsys.readouterr().err
        assert code == 1 and words in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "m.safetensors").exists()
