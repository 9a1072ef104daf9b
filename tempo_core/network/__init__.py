"""The TEMPO network: observations at time stamps in, the frame at any other time out.

The modules follow the data flow of the README's diagram: :mod:`.config` (the frozen
hyper-parameters and presets), :mod:`.layers` (time encoding, ConvNeXt and NAFNet blocks),
:mod:`.encoder` (the time-conditioned feature pyramid), :mod:`.correlation` (the local cost
volume that guides the offsets), :mod:`.motion` (the parameter-free motion prior),
:mod:`.temporal_attention` (deformable sampling over all observations and the confidence),
:mod:`.decoder` (NAFNet with encoder skips), :mod:`.synthesis` (the last full-resolution
sampling of the input pixels), :mod:`.model` (``TempoNet``, which ties them together) and
:mod:`.half_size` (the network's side of large frames: the learned part on the anchors halved,
the prior and the last look-ups at full size).
This package imports nothing from video, training, evaluation or the commands; code outside
it uses only the names exported here.
"""

from tempo_core.network.config import (
    REQUIRED_MULTIPLE,
    TempoConfig,
    preset_config,
    preset_names,
    tempo_b,
    tempo_l,
    tempo_s,
    tempo_tiny,
    tempo_xs,
)
from tempo_core.network.half_size import finish_half_size_synthesis, halve, halve_motion, prior_view
from tempo_core.network.model import (
    AnchorMotion,
    EncodedObservations,
    TempoNet,
    build_tempo,
    count_parameters,
    normalize_times,
)
from tempo_core.network.prior_config import PriorConfig

__all__ = [
    "REQUIRED_MULTIPLE",
    "AnchorMotion",
    "EncodedObservations",
    "PriorConfig",
    "TempoConfig",
    "TempoNet",
    "build_tempo",
    "count_parameters",
    "finish_half_size_synthesis",
    "halve",
    "halve_motion",
    "normalize_times",
    "preset_config",
    "preset_names",
    "prior_view",
    "tempo_b",
    "tempo_l",
    "tempo_s",
    "tempo_tiny",
    "tempo_xs",
]
