"""Model files: round trip, fp16, and every bad file refused with a sentence naming the problem."""

import json

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.torch import save_file

from tempo_core.checkpoint import CONFIG_KEY, NEUTRAL_WHEN_MISSING, load_model, read_config, save_weights
from tempo_core.errors import ModelError
from tempo_core.network import build_tempo
from tempo_core.network.config import tempo_tiny


@pytest.fixture()
def model():
    return build_tempo(tempo_tiny()).eval()


def outputs(model):
    torch.manual_seed(1)
    smooth = torch.nn.functional.interpolate(torch.rand(1, 3, 8, 10), scale_factor=8, mode="bilinear")
    frames = torch.stack([smooth[..., :, :64], smooth[..., :, 4:68]], dim=1)  # moving 4 px
    times = torch.tensor([[0.0, 1.0]])
    with torch.no_grad():
        return model(frames, times, torch.tensor([0.5]))[0]


def test_round_trip_is_exact(model, tmp_path):
    path = save_weights(model, tmp_path / "m.safetensors", metadata={"note": "test"})
    loaded = load_model(path)
    assert loaded.config == model.config
    assert torch.equal(outputs(model), outputs(loaded))
    assert not list(tmp_path.glob(".*tmp*"))


def test_fp16_export_is_close(model, tmp_path):
    loaded = load_model(save_weights(model, tmp_path / "m16.safetensors", fp16=True))
    assert (outputs(model) - outputs(loaded)).abs().max() < 2e-3


def test_missing_file(tmp_path):
    with pytest.raises(ModelError, match="No model file"):
        load_model(tmp_path / "absent.safetensors")


def test_not_safetensors(tmp_path):
    path = tmp_path / "fake.safetensors"
    path.write_bytes(b"PK\x03\x04 this is a zip, maybe a pickle")
    with pytest.raises(ModelError, match="not a readable safetensors"):
        load_model(path)


def test_safetensors_without_config(tmp_path):
    path = tmp_path / "other.safetensors"
    save_file({"w": torch.zeros(2)}, str(path))
    with pytest.raises(ModelError, match="holds no TEMPO config"):
        load_model(path)


def test_config_of_another_architecture(model, tmp_path):
    path = tmp_path / "alien.safetensors"
    save_file({"w": torch.zeros(2)}, str(path), metadata={CONFIG_KEY: json.dumps({"num_layers": 12})})
    with pytest.raises(ModelError, match="another architecture"):
        read_config(path)


def test_weights_that_do_not_match_the_config(model, tmp_path):
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    state.pop(next(iter(state)))
    path = tmp_path / "partial.safetensors"
    save_file(state, str(path), metadata={CONFIG_KEY: json.dumps(model.config.to_dict())})
    with pytest.raises(ModelError, match="does not match"):
        load_model(path)


def test_wrong_dtype_and_nan_weights(model, tmp_path):
    for label, corrupt, message in [
        ("int", lambda t: t.to(torch.int32), "dtype"),
        ("nan", lambda t: torch.full_like(t, float("nan")), "NaN"),
    ]:
        state = {k: v.contiguous() for k, v in model.state_dict().items()}
        name = next(k for k, v in state.items() if v.is_floating_point())
        state[name] = corrupt(state[name]).contiguous()
        path = tmp_path / f"{label}.safetensors"
        save_file(state, str(path), metadata={CONFIG_KEY: json.dumps(model.config.to_dict())})
        with pytest.raises(ModelError, match=message):
            load_model(path)


def test_metadata_is_parsed_never_evaluated(model, tmp_path):
    path = tmp_path / "evil.safetensors"
    payload = "__import__('os').system('touch pwned')"
    save_file({"w": torch.zeros(2)}, str(path), metadata={CONFIG_KEY: payload})
    with pytest.raises(ModelError):
        load_model(path)
    assert not (tmp_path / "pwned").exists()


def save_with_config(model, path, config_text: str):
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(path), metadata={CONFIG_KEY: config_text})
    return path


def assert_sentence(err: ModelError) -> None:
    text = str(err)
    assert text.endswith(".") and "\n" not in text and "Traceback" not in text and len(text) < 300


def tiny_config_with(**changes) -> str:
    values = tempo_tiny().to_dict()
    values.update(changes)
    return json.dumps(values)


@pytest.mark.parametrize(
    ("config_text", "words"),
    [
        ("[" * 50_000 + "]" * 50_000, "longer than"),
        ('{"base_channels": ' + "[" * 1500 + "]" * 1500 + "}", "nested too deeply"),
        (tiny_config_with(base_channels=40000), "base_channels must lie between 1 and 96"),
        (tiny_config_with(base_channels=24.0), "base_channels must be a whole number"),
        (tiny_config_with(base_channels=True), "base_channels must be a whole number"),
        (tiny_config_with(offset_scale="x"), "offset_scale must be a number"),
        (tiny_config_with(offset_scale=float("nan")), "offset_scale must be a finite number"),
        (tiny_config_with(offset_scale=float("inf")), "offset_scale must be a finite number"),
        (tiny_config_with(encoder_depths=[10_000_000, 2, 2, 2]), "encoder_depths must lie between"),
        (tiny_config_with(decoder_depths=[1, 1, 1]), "decoder_depths must be a list of 4"),
        (tiny_config_with(attn_heads=3), "cannot build|divide"),
    ],
)
def test_hostile_config_values_are_refused_plainly(model, tmp_path, config_text, words):
    path = save_with_config(model, tmp_path / "hostile.safetensors", config_text)
    with pytest.raises(ModelError, match=words) as err:
        load_model(path)
    assert_sentence(err.value)


_JUNK = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**9), 10**9)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=4),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=12,
)
_SMALL_DEPTHS = st.lists(st.integers(-1, 3), min_size=3, max_size=5)
_FIELDS = sorted(tempo_tiny().to_dict())


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    changes=st.dictionaries(
        st.sampled_from([*_FIELDS, "extra"]),
        _JUNK | _SMALL_DEPTHS | st.integers(-2, 20) | st.floats(-100, 100),
        max_size=3,
    )
    | st.fixed_dictionaries({"offset_scale": st.floats(0.01, 64.0)})  # valid: a working model
)
def test_fuzz_config_metadata_gives_a_sentence_or_a_working_model(model, tmp_path, changes):
    path = save_with_config(model, tmp_path / "fuzz.safetensors", tiny_config_with(**changes))
    try:
        loaded = load_model(path)
    except ModelError as err:
        assert_sentence(err)
        return
    rgb = outputs(loaded)
    assert torch.isfinite(rgb).all() and rgb.min() >= 0 and rgb.max() <= 1


def test_a_file_from_before_the_disagreement_weight_loads_with_the_neutral_value(model, tmp_path):
    # issue 21: files written before confidence_disagreement existed load with 0 (the map they had)
    with torch.no_grad():
        model.confidence_disagreement.fill_(-1.5)
    state = {k: v.contiguous() for k, v in model.state_dict().items() if k != "confidence_disagreement"}
    path = tmp_path / "old.safetensors"
    save_file(state, str(path), metadata={CONFIG_KEY: json.dumps(model.config.to_dict())})
    loaded = load_model(path)
    assert loaded.confidence_disagreement.item() == NEUTRAL_WHEN_MISSING["confidence_disagreement"] == 0.0
    with torch.no_grad():
        model.confidence_disagreement.zero_()
    assert torch.equal(outputs(model), outputs(loaded))


def test_a_file_with_the_disagreement_weight_keeps_it(model, tmp_path):
    with torch.no_grad():
        model.confidence_disagreement.fill_(-1.5)
    loaded = load_model(save_weights(model, tmp_path / "new.safetensors"))
    assert loaded.confidence_disagreement.item() == -1.5
