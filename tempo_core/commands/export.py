"""``tempo export RUN_OR_CHECKPOINT -o model.safetensors``: weights + config for inference.

The output holds the model weights (fp32, or fp16 with ``--fp16``) and the model config as JSON
in the safetensors metadata, so :func:`tempo_core.checkpoint.load_model` and the inference
wrapper need no other file. Training state (optimizer, RNG, ...) is left out.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from tempo_core.checkpoint import read_metadata, save_weights
from tempo_core.errors import InputError, OutputError, describe
from tempo_core.network import TempoConfig
from tempo_core.output_paths import check_file_target


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", help="run folder (runs/<name>) or a training checkpoint .pt")
    parser.add_argument("-o", "--output", required=True, help="the .safetensors file to write")
    parser.add_argument(
        "--which",
        choices=("best", "latest"),
        default="best",
        help="which checkpoint of a run folder (default: best)",
    )
    parser.add_argument("--fp16", action="store_true", help="store the weights as float16")
    parser.add_argument("--raw", action="store_true", help="export the raw weights, not their moving average (EMA)")
    parser.add_argument("--force", action="store_true", help="overwrite an existing output")
    parser.add_argument(
        "--allow_missing",
        action="store_true",
        help="keep initial values for weights an older checkpoint lacks (listed)",
    )


REQUIRED_KEYS = ("model_config", "model", "step", "epoch")  # what an export reads from a training checkpoint


def _first_line(err: Exception) -> str:
    line = str(err).strip().splitlines()[-1].strip() if str(err).strip() else type(err).__name__
    return line[:300].rstrip(".")


def resolve_checkpoint(source: str | Path, which: str = "best") -> Path:
    """The ``.pt`` file meant by a run folder, its ``checkpoints/`` folder or a file."""
    path = Path(source)
    if path.is_file():
        return path
    for folder in (path / "checkpoints", path):
        for name in (f"{which}.pt", "latest.pt"):
            if (folder / name).is_file():
                return folder / name
    raise InputError(f"No training checkpoint was found at {path}.")


def export_checkpoint(
    source: str | Path,
    output: str | Path,
    *,
    which: str = "best",
    fp16: bool = False,
    raw: bool = False,
    allow_missing: bool = False,
    overwrite: bool = True,
) -> Path:
    """Write the weights of a training checkpoint (or run folder) to a safetensors model file
    (through the safe-output path: never the checkpoint, an existing file only with ``overwrite``).

    The EMA weights are exported when the checkpoint has them (they are what validation
    measured), unless ``raw``. ``allow_missing`` keeps the network's initial values for weights
    the checkpoint lacks (a checkpoint from before a parameter was added) and says which.
    """
    from tempo_core.network import TempoNet
    from tempo_core.training.state import load_checkpoint

    checkpoint = resolve_checkpoint(source, which)
    state = load_checkpoint(checkpoint)
    lacking = [key for key in REQUIRED_KEYS if key not in state]
    if lacking:
        missing_keys = ", ".join(lacking)
        raise InputError(f"{checkpoint} lacks {missing_keys}, so it cannot be exported; it is damaged or partial.")
    try:
        model = TempoNet(TempoConfig.from_dict(state["model_config"]))
    except (KeyError, TypeError, ValueError) as err:
        raise InputError(f"{checkpoint} holds a network config TEMPO cannot build ({describe(err)}).") from None
    use_ema = "ema" in state and not raw
    weights = state["ema"] if use_ema else state["model"]
    if not isinstance(weights, dict):
        raise InputError(f"{checkpoint} holds no weights TEMPO can read ({'ema' if use_ema else 'model'}).")
    missing = sorted(set(model.state_dict()) - set(weights))
    if missing and allow_missing:
        print(f"note: {len(missing)} weights missing from the checkpoint keep their initial "
              f"values: {', '.join(missing)}")  # fmt: skip
        weights = {**model.state_dict(), **weights}
    try:
        model.load_state_dict(weights)
    except RuntimeError as err:
        hint = " (--allow_missing keeps initial values for missing ones)" if missing else ""
        detail = f"{len(missing)} weights missing, such as {', '.join(missing[:3])}" if missing else _first_line(err)
        raise InputError(
            f"{checkpoint} does not fit the current network code (trained with another version){hint}: {detail}."
        ) from None
    metadata = {
        "tempo.source": checkpoint.name,
        "tempo.weights": "ema" if use_ema else "raw",
        "tempo.step": str(state["step"]),
        "tempo.epoch": str(state["epoch"]),
    }
    best = float(state.get("best_metric", math.nan))
    if not math.isnan(best):
        metadata[f"tempo.{state.get('metric_name', 'metric')}"] = f"{best:.4f}"
    try:
        return save_weights(model, output, fp16=fp16, metadata=metadata, overwrite=overwrite, inputs=[checkpoint])
    except OSError as err:
        raise OutputError(f"Could not write {output}: {err}.") from None


def run(args: argparse.Namespace) -> int:
    output = Path(args.output)
    if output.suffix != ".safetensors":
        raise InputError("The output file must end in .safetensors.")
    checkpoint = resolve_checkpoint(args.source, args.which)
    check_file_target(  # the safe-output rules: never an input, a folder or a dangling link
        output, overwrite=args.force, inputs=[checkpoint], what="model file", hint="pass --force to overwrite it"
    )
    export_checkpoint(
        checkpoint,
        output,
        which=args.which,
        fp16=args.fp16,
        raw=args.raw,
        allow_missing=args.allow_missing,
        overwrite=args.force,
    )
    kind = read_metadata(output).get("tempo.weights", "raw")
    print(f"exported {checkpoint} ({kind} weights) -> {output}{' (fp16)' if args.fp16 else ''}")
    return 0
