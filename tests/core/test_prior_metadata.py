"""A model file records the motion prior its weights depend on (issue 30 item 5)."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch
from safetensors.torch import load_file, save_file

from tempo_core.checkpoint import load_model, read_metadata, save_weights
from tempo_core.commands.cli import main
from tempo_core.errors import ModelError
from tempo_core.network import PriorConfig, build_tempo
from tempo_core.network.config import tempo_tiny
from tempo_core.prior_metadata import PRIOR_KEY, parse_prior, prior_to_json


@pytest.fixture
def tiny():
    torch.manual_seed(0)
    return build_tempo(tempo_tiny())


def test_a_saved_model_loads_with_the_prior_it_was_saved_with(tmp_path, tiny):
    studied = dataclasses.replace(PriorConfig(), lk_iterations=3, propagation_distances=(8, 2, 1), smoothness=0.02)
    tiny.motion_prior.config = studied
    path = save_weights(tiny, tmp_path / "m.safetensors")
    assert json.loads(read_metadata(path)[PRIOR_KEY])["lk_iterations"] == 3
    assert load_model(path).motion_prior.config == studied


def test_a_file_without_the_record_runs_with_the_defaults_and_info_says_so(tmp_path, tiny, capsys):
    path = save_weights(tiny, tmp_path / "old.safetensors")
    metadata = {k: v for k, v in read_metadata(path).items() if k != PRIOR_KEY}
    save_file(load_file(str(path)), str(path), metadata=metadata)  # as files were written before
    assert load_model(path).motion_prior.config == PriorConfig()
    assert main(["info", "--preset", "tiny", "--checkpoint", str(path)]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("motion prior:")]
    assert len(lines) == 1 and "not recorded" in lines[0] and "current defaults" in lines[0]


def test_info_names_the_settings_a_file_records_differently(tmp_path, tiny, capsys):
    tiny.motion_prior.config = dataclasses.replace(PriorConfig(), median_size=3)
    path = save_weights(tiny, tmp_path / "m.safetensors")
    assert main(["info", "--preset", "tiny", "--checkpoint", str(path)]) == 0
    assert "motion prior: recorded in the file: differs from the defaults in median_size" in capsys.readouterr().out


@pytest.mark.parametrize(
    "change, words",
    [
        ({"lk_window": 100000}, "lk_window must be a whole number from 0 to 64"),
        ({"search_radius": 40}, "search_radius must be a whole number from 0 to 8"),
        ({"smoothness": float("nan")}, "smoothness must be a finite number"),
        ({"propagation_distances": list(range(1, 40))}, "at most 16 whole numbers"),
        ({"propagation_distances": [4, 0]}, "from 1 to 512"),
        ({"pair_gap_units": 1}, "must be true or false"),
        ({"lk_iterations": 2.5}, "lk_iterations must be a whole number"),
        ({"run_this": "rm -rf /"}, "does not know (run_this)"),
    ],
)
def test_hostile_prior_records_are_refused_with_a_sentence(change, words):
    values = {**json.loads(prior_to_json(PriorConfig())), **change}
    with pytest.raises(ModelError, match=None) as refused:
        parse_prior(json.dumps(values), "m.safetensors")
    assert words in str(refused.value) and str(refused.value).startswith("m.safetensors")


def test_not_json_or_not_an_object_is_refused():
    for text in ("{", "[1, 2]", "x" * 5000):
        with pytest.raises(ModelError):
            parse_prior(text, "m.safetensors")
