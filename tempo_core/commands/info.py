"""``tempo info``: the presets, their measured parameter counts, and the default model."""

from __future__ import annotations

import argparse

import torch

from tempo_core.checkpoint import default_model_path, read_config
from tempo_core.errors import ModelError
from tempo_core.inference import device_description, resolve_device
from tempo_core.network import TempoNet, count_parameters, preset_config, preset_names


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--preset", choices=preset_names(), help="only this preset")


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
    path = default_model_path()
    try:
        config = read_config(path)
        print(f"default model: {path} (base_channels={config.base_channels})")
    except ModelError as err:
        print(f"default model: {err}")
    return 0
