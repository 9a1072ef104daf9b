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


# ---------------------------------------------------------------- issue 28: hostile model files
def _crafted(path, header: dict, data_bytes: int, length_claimed: int | None = None):
    """A safetensors file of ``header`` whose data is ``data_bytes`` of holes (a sparse file:
    nothing is written, so a header can claim gigabytes in a test)."""
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    with open(path, "wb") as handle:
        handle.write((length_claimed or len(raw)).to_bytes(8, "little") + raw)
        handle.truncate(8 + max(len(raw), length_claimed or 0) + data_bytes)
    return path


def _header_of(model, extra: dict | None = None) -> tuple[dict, int]:
    """The header of ``model``'s weights as float32 (plus ``extra`` entries after them)."""
    header, offset = {"__metadata__": {CONFIG_KEY: json.dumps(model.config.to_dict())}}, 0
    for name, tensor in [*model.state_dict().items()]:
        size = tensor.numel() * 4
        header[name] = {"dtype": "F32", "shape": list(tensor.shape), "data_offsets": [offset, offset + size]}
        offset += size
    for name, (dtype, shape, size) in (extra or {}).items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    return header, offset


@pytest.fixture()
def no_tensor_read(monkeypatch):
    """Fail the test if any tensor is read: every refusal below comes from the header alone."""
    import tempo_core.checkpoint as checkpoint

    def refuse(*args, **kwargs):
        raise AssertionError("a tensor was read before the header was checked")

    monkeypatch.setattr(checkpoint, "safe_open", refuse)


def test_an_unused_sparse_1_5_gb_tensor_is_refused_from_the_header(model, tmp_path, no_tensor_read):
    """It peaked at 4.6 GB before the refusal: every tensor loaded before names were checked."""
    big = 1536 * 2**20
    header, size = _header_of(model, {"unused": ("F32", [big // 4], big)})
    path = _crafted(tmp_path / "sparse.safetensors", header, size)
    words = r"does not match its TEMPO config: 0 weights missing, 1 unexpected \(e\.g\. unused\)"
    with pytest.raises(ModelError, match=words):
        load_model(path)


def test_a_huge_shape_for_a_real_weight_is_refused_from_the_header(model, tmp_path, no_tensor_read):
    header, size = _header_of(model)
    name = next(iter(model.state_dict()))
    entry = header[name]
    start = entry["data_offsets"][0]
    entry["shape"], entry["data_offsets"] = [40000, 40000], [start, start + 40000 * 40000 * 4]
    path = _crafted(tmp_path / "huge.safetensors", header, start + 40000 * 40000 * 4)
    with pytest.raises(ModelError, match=rf"weight {name} has shape \(40000, 40000\), the architecture needs"):
        load_model(path)


def test_too_many_tensors_or_a_giant_header_are_refused_before_parsing_them(model, tmp_path, no_tensor_read):
    """1,000,000 tensors cost 1.7 GB and 33 s: the header's 8-byte length or its count refuses them."""
    path = _crafted(tmp_path / "million.safetensors", {}, 0, length_claimed=1_000_000 * 64)  # 64 MB of holes
    with pytest.raises(ModelError, match=r"its header claims 64,000,000 bytes; TEMPO reads model headers up to 1 MB"):
        load_model(path)
    many = {f"t{i}": {"dtype": "F32", "shape": [0], "data_offsets": [0, 0]} for i in range(10_001)}
    with pytest.raises(ModelError, match=r"it lists 10,001 tensors; a TEMPO model has at most 10,000"):
        load_model(_crafted(tmp_path / "many.safetensors", many, 0))
    lying = {"w": {"dtype": "F32", "shape": [1000, 1000], "data_offsets": [0, 4_000_000]}}
    with pytest.raises(ModelError, match="data lies beyond the end of the file"):
        load_model(_crafted(tmp_path / "short.safetensors", lying, 16))
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes((4096).to_bytes(8, "little") + b"{}")
    with pytest.raises(ModelError, match="header is longer than the file"):
        load_model(cut)


def test_a_network_larger_than_the_memory_is_refused_before_it_is_built(model, tmp_path, monkeypatch, no_tensor_read):
    monkeypatch.setenv("TEMPO_MEMORY_BYTES", str(2**20))
    header, size = _header_of(model)
    with pytest.raises(ModelError, match=r"needs about 0\.\d GB of memory to load; 0\.0 GB is available"):
        load_model(_crafted(tmp_path / "fits_not.safetensors", header, size))


def test_a_pipe_as_model_file_is_refused_without_opening_it(tmp_path, capsys):
    """A FIFO blocked forever past Ctrl-C (safetensors holds the GIL while it waits)."""
    from fifo_guard import guarded_fifo
    from tempo_test_clips import make_clip

    from tempo_core.commands.cli import main

    clip = make_clip(tmp_path / "in.mkv", count=2, width=32, height=24)
    with guarded_fifo(tmp_path / "model.safetensors") as fifo:
        with pytest.raises(ModelError, match=r"model\.safetensors is a named pipe \(FIFO\), not a model file\."):
            load_model(fifo)
        argv = [str(clip), "-o", str(tmp_path / "o.mkv"), "--factor", "2", "--checkpoint", str(fifo), "--device", "cpu"]
        assert main(["interpolate", *argv, "--quiet"]) == 1
        assert "is a named pipe (FIFO), not a model file." in capsys.readouterr().err
        assert not (tmp_path / "o.mkv").exists()


def _training_checkpoint(path, model_config: dict, train_args: dict | None = None):
    from tempo_core.training.state import CHECKPOINT_FORMAT

    state = {"format": CHECKPOINT_FORMAT, "model_config": model_config, "model": {}, "step": 0, "epoch": 0}
    if train_args is not None:
        state["train_args"] = train_args
    torch.save(state, path)
    return path


def test_a_training_checkpoint_with_a_giant_config_is_refused_by_export_and_resume(tmp_path, capsys):
    """``base_channels: 4000`` in a weights-only .pt skipped the model-file limits and was OOM-killed."""
    from tempo_core.commands.cli import main

    giant = {**tempo_tiny().to_dict(), "base_channels": 4000}
    pt = _training_checkpoint(tmp_path / "giant.pt", giant)
    assert main(["export", str(pt), "-o", str(tmp_path / "m.safetensors")]) == 1
    err = capsys.readouterr().err
    assert "holds a model size TEMPO refuses (base_channels must lie between 1 and 96)." in err
    assert "Traceback" not in err
    flags = {"base_channels": 4000, "preset": "tiny", "encoder_depths": None}
    resumed = _training_checkpoint(tmp_path / "flags.pt", tempo_tiny().to_dict(), flags)
    assert main(["train", "--resume", str(resumed), "--data_root", str(tmp_path)]) == 1
    assert "base_channels must lie between 1 and 96" in capsys.readouterr().err
    depths = _training_checkpoint(tmp_path / "depths.pt", tempo_tiny().to_dict(), {"encoder_depths": "9999,2,2,2"})
    assert main(["train", "--resume", str(depths), "--data_root", str(tmp_path)]) == 1
    assert "encoder_depths must lie between 1 and 16" in capsys.readouterr().err
    assert not (tmp_path / "m.safetensors").exists()


def test_a_pipe_as_training_checkpoint_is_refused_without_opening_it(tmp_path):
    from fifo_guard import guarded_fifo

    from tempo_core.errors import InputError
    from tempo_core.training.state import load_checkpoint

    with guarded_fifo(tmp_path / "latest.pt") as fifo, pytest.raises(InputError, match=r"is a named pipe \(FIFO\)"):
        load_checkpoint(fifo)
