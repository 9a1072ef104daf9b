"""``tempo info``: the presets, their measured parameter counts, and the default model."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import torch

from tempo_core.checkpoint import default_model_path, read_config, read_metadata
from tempo_core.errors import ModelError
from tempo_core.inference import device_description, resolve_device
from tempo_core.network import PriorConfig, TempoNet, count_parameters, preset_config, preset_names
from tempo_core.prior_metadata import recorded_prior


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--preset", choices=preset_names(), help="only this preset")
    parser.add_argument("--checkpoint", help="a model file to describe (default: the bundled model)")


def run(args: argparse.Namespace) -> int:
    print(f"torch {torch.__version__}; best device: {device_description(resolve_device(None))}")
    print(f"{'preset':<8}{'params':>12}  channels  encoder       decoder       heads x points")
    for name in [args.preset] if args.preset else preset_names():
        config = preset_config(name)
        params = count_parameters(TempoNet(config))
        print(
            f"{name:<8}{params / 1e6:>11.2f}M  {config.base_channels:>8}  "
            f"{str(list(config.encoder_depths)):<13} {str(list(config.decoder_depths)):<13} "
            f"{config.attn_heads} x {config.attn_points}"
        )
    label = "model" if args.checkpoint else "default model"
    path = Path(args.checkpoint) if args.checkpoint else default_model_path()
    try:
        config = read_config(path)
        print(f"{label}: {path} (base_channels={config.base_channels})")
        print(f"motion prior: {prior_line(read_metadata(path), path.name)}")
    except ModelError as err:
        print(f"{label}: {err}")
        return 1 if args.checkpoint else 0
    return 0


def prior_line(metadata: dict[str, str], name: str) -> str:
    """One line on the motion prior a model file records (or that it records none)."""
    prior = recorded_prior(metadata, name)
    if prior is None:
        return "not recorded in this file (written before files recorded it); it runs with TEMPO's current defaults"
    differs = [f.name for f in dataclasses.fields(PriorConfig) if getattr(prior, f.name) != f.default]
    settings = "TEMPO's current defaults" if not differs else f"differs from the defaults in {', '.join(differs)}"
    return f"recorded in the file: {settings}"
