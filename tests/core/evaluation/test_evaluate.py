"""``tempo eval`` on tiny septuplet / triplet sets made here (random 32 x 32 PNGs)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from tempo_test_clips import as_uint8_images, moving_texture

from tempo_core.commands.cli import main
from tempo_core.errors import InputError
from tempo_core.evaluation import metrics
from tempo_core.evaluation.evaluate import blend_predictor, discover_samples, evaluate, read_rgb
from tempo_core.evaluation.targets import IncompleteTarget, find_targets

SIZE = 32
CLIPS = {"alpha": ["00000", "00007"], "beta": ["00003"]}


def _write_set(root: Path, frames_per_sequence: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    for clip, sequences in CLIPS.items():
        for sequence in sequences:
            folder = root / clip / sequence
            folder.mkdir(parents=True)
            for i in range(1, frames_per_sequence + 1):
                image = rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)
                Image.fromarray(image).save(folder / f"im{i}.png")


@pytest.fixture()
def septuplets(tmp_path: Path) -> Path:
    root = tmp_path / "septuplets"
    _write_set(root, 7)
    return root


def _oracle(samples):
    """A 'model' that returns the ground truth, found from its first input frame."""
    truth = {read_rgb(s.inputs[0]).tobytes(): read_rgb(s.target) for s in samples}
    return lambda frames, times, target_time: truth[frames[0].tobytes()]


def test_discovery_follows_the_septuplet_protocol(septuplets: Path) -> None:
    two = discover_samples(septuplets, "septuplet", 2)
    four = discover_samples(septuplets, "septuplet", 4)
    assert [s.name for s in two] == ["alpha/00000", "alpha/00007", "beta/00003"]
    assert [s.clip for s in two] == ["alpha", "alpha", "beta"]
    assert [p.name for p in two[0].inputs] == ["im3.png", "im5.png"]
    assert two[0].times == (0.0, 1.0)
    assert [p.name for p in four[0].inputs] == ["im1.png", "im3.png", "im5.png", "im7.png"]
    assert four[0].times == (-1.0, 0.0, 1.0, 2.0)
    assert [s.target for s in two] == [s.target for s in four]  # same targets: comparable
    assert all(s.target.name == "im4.png" and s.target_time == 0.5 for s in two)
    assert len(discover_samples(septuplets, "septuplet", 2, limit=2)) == 2


def test_oracle_scores_the_psnr_cap(septuplets: Path) -> None:
    samples = discover_samples(septuplets, "septuplet", 4)
    result = evaluate(_oracle(samples), samples, ssim_variants=metrics.SSIM_VARIANTS)
    assert result["count"] == 3
    tempo = result["methods"]["tempo"]
    assert len(tempo["targets"]) == 3
    assert tempo["psnr"] == metrics.PSNR_CAP == 99.0
    assert all(t["psnr"] == 99.0 for t in tempo["targets"])
    for variant in metrics.SSIM_VARIANTS:
        assert tempo[f"ssim_{variant}"] == pytest.approx(1.0)
    assert tempo["clips"]["alpha"]["count"] == 2 and tempo["clips"]["beta"]["count"] == 1
    assert tempo["spearman"] is None  # the oracle gives no confidence map


def test_blend_baseline_matches_a_hand_computation(septuplets: Path) -> None:
    samples = discover_samples(septuplets, "septuplet", 2)
    result = evaluate(None, samples, baseline="blend", ssim_variants=("skimage7",))
    expected = []
    for sample in samples:
        im3, im5 = (read_rgb(p).astype(np.float64) for p in sample.inputs)
        blend = np.rint((im3 + im5) / 2.0)
        mse = np.mean((blend - read_rgb(sample.target)) ** 2)
        expected.append(10 * math.log10(255.0**2 / mse))
    blend_result = result["methods"]["blend"]
    assert [t["psnr"] for t in blend_result["targets"]] == pytest.approx(expected)
    assert blend_result["psnr"] == pytest.approx(np.mean(expected))
    assert blend_result["ssim"] == blend_result["ssim_skimage7"]


def test_blend_rounds_half_to_even_and_weighs_by_time() -> None:
    early, late = np.full((2, 2, 3), 10, np.uint8), np.full((2, 2, 3), 21, np.uint8)
    assert blend_predictor([early, late], [0.0, 1.0], 0.5)[0, 0, 0] == 16  # 15.5 -> 16
    assert blend_predictor([late, early], [1.0, 0.0], 0.5)[0, 0, 0] == 16
    four = [np.full((2, 2, 3), v, np.uint8) for v in (0, 10, 30, 255)]
    assert blend_predictor(four, [-1.0, 0.0, 1.0, 2.0], 0.25)[0, 0, 0] == 15  # 10 + 0.25 * 20


def test_confidence_quality_is_reported(septuplets: Path) -> None:
    samples = discover_samples(septuplets, "septuplet", 2)
    oracle = _oracle(samples)
    rng = np.random.default_rng(5)

    def noisy_with_honest_confidence(frames, times, target_time):
        truth = oracle(frames, times, target_time)
        noise = rng.integers(-60, 61, truth.shape)
        image = np.clip(truth.astype(int) + noise, 0, 255).astype(np.uint8)
        return image, 1.0 - metrics.pixel_error(image, truth)

    tempo = evaluate(noisy_with_honest_confidence, samples, ssim_variants=("rgb",))["methods"]
    assert tempo["tempo"]["spearman"] == pytest.approx(1.0)
    assert tempo["tempo"]["ause"] == pytest.approx(0.0, abs=1e-9)
    assert tempo["tempo"]["ause_random"] > 0.1


def test_list_file_layouts(tmp_path: Path) -> None:
    sequences = tmp_path / "vimeo" / "sequences"
    _write_set(sequences, 3)
    (tmp_path / "vimeo" / "tri_testlist.txt").write_text("alpha/00007\nbeta/00003\n\n")
    samples = discover_samples(tmp_path / "vimeo", "triplet", 2)
    assert [s.name for s in samples] == ["alpha/00007", "beta/00003"]
    assert [p.name for p in samples[0].inputs] == ["im1.png", "im3.png"]
    assert samples[0].target.name == "im2.png"
    with pytest.raises(InputError, match="N=2"):
        discover_samples(tmp_path / "vimeo", "triplet", 4)
    with pytest.raises(InputError, match="No septuplets"):
        discover_samples(tmp_path / "vimeo", "septuplet", 2)


def test_cli_json_has_the_documented_keys(septuplets: Path, tmp_path: Path) -> None:
    from tempo_core.checkpoint import save_weights
    from tempo_core.network.config import tempo_tiny
    from tempo_core.network.model import TempoNet

    checkpoint = save_weights(TempoNet(tempo_tiny()), tmp_path / "tiny.safetensors")
    out = tmp_path / "eval.json"
    code = main(
        [
            "eval",
            "--data",
            str(septuplets),
            "--n",
            "4",
            "--checkpoint",
            str(checkpoint),
            "--baseline",
            "blend",
            "--device",
            "cpu",
            "--limit",
            "2",
            "--quiet",
            "--json",
            str(out),
        ]
    )
    assert code == 0
    report = json.loads(out.read_text())
    assert set(report) == {
        "data",
        "layout",
        "n",
        "count",
        "incomplete",
        "target_time",
        "anchor_times",
        "psnr_cap",
        "ssim_variants",
        "model",
        "methods",
        "seconds",
    }
    assert report["count"] == 2 and report["n"] == 4 and report["anchor_times"] == [-1, 0, 1, 2]
    assert set(report["model"]) == {"checkpoint", "config", "parameters", "device", "precision"}
    assert set(report["methods"]) == {"tempo", "blend"}
    tempo = report["methods"]["tempo"]
    for key in ("psnr", "ssim", "ssim_matlab3d", "ssim_skimage7", "spearman", "ause"):
        assert isinstance(tempo[key], float), key
    assert report["methods"]["blend"]["spearman"] is None
    assert set(tempo["targets"][0]) >= {"name", "clip", "psnr", "ssim", "spearman", "ause"}
    assert set(tempo["clips"]) == {"alpha"}


def test_cli_missing_default_model_is_a_plain_error(septuplets: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("TEMPO_DEFAULT_MODEL", str(tmp_path / "nowhere.safetensors"))
    assert main(["eval", "--data", str(septuplets), "--quiet"]) == 1
    error = capsys.readouterr().err.strip()
    assert error.startswith("tempo eval:") and "default model is missing" in error
    assert "Traceback" not in error


def _write_moving_texture(root: Path, width: int = 72, height: int = 40) -> None:
    """One septuplet of a smooth texture moving 2 pixels right per frame (size not a multiple of 32)."""
    folder = root / "moving" / "00001"
    folder.mkdir(parents=True)
    frames = moving_texture(7, height, width, shift=2, cell=5, margin=12, seed=1)
    for i, image in enumerate(as_uint8_images(frames), start=1):
        Image.fromarray(image).save(folder / f"im{i}.png")


def test_prior_baseline_scores_the_motion_prior_alone(tmp_path: Path) -> None:
    from tempo_core.checkpoint import save_weights
    from tempo_core.network.config import tempo_tiny
    from tempo_core.network.model import TempoNet

    _write_moving_texture(tmp_path / "set")
    checkpoint = save_weights(TempoNet(tempo_tiny()), tmp_path / "tiny.safetensors")
    out = tmp_path / "eval.json"
    args = ["eval", "--data", str(tmp_path / "set"), "--checkpoint", str(checkpoint), "--device", "cpu"]
    assert main([*args, "--baseline", "prior", "--baseline-only", "--quiet", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert set(report["methods"]) == {"prior"} and report["model"] is not None
    blend = evaluate(None, discover_samples(tmp_path / "set", "septuplet", 2), baseline="blend")
    assert report["methods"]["prior"]["psnr"] > blend["methods"]["blend"]["psnr"] + 5
    with pytest.raises(InputError, match="model"):
        evaluate(None, discover_samples(tmp_path / "set", "septuplet", 2), baseline="prior")


def _remove(root: Path, *names: str) -> None:
    for name in names:
        (root / name).unlink()


def test_incomplete_targets_are_named_and_unread_frames_may_be_missing(septuplets: Path) -> None:
    # alpha/00000 lacks the target, alpha/00007 an image only N=4 reads, beta/00003 one none reads
    _remove(septuplets, "alpha/00000/im4.png", "alpha/00007/im1.png", "beta/00003/im6.png")
    two = find_targets(septuplets, "septuplet", 2)
    assert [s.name for s in two.samples] == ["alpha/00007", "beta/00003"]
    assert two.incomplete == [IncompleteTarget("alpha/00000", ("im4.png",))]
    four = find_targets(septuplets, "septuplet", 4)
    assert [s.name for s in four.samples] == ["beta/00003"]
    assert four.incomplete == [
        IncompleteTarget("alpha/00000", ("im4.png",)),
        IncompleteTarget("alpha/00007", ("im1.png",)),
    ]
    assert [s.name for s in find_targets(septuplets, "triplet", 2).samples] == ["alpha/00000", "beta/00003"]


def test_no_complete_target_is_a_plain_error(septuplets: Path) -> None:
    _remove(septuplets, "alpha/00000/im4.png", "alpha/00007/im4.png", "beta/00003/im3.png")
    with pytest.raises(InputError, match=r"None of the 3 septuplets .* N=2 reads \(alpha/00000 lacks im4.png\)"):
        find_targets(septuplets, "septuplet", 2)


def test_list_file_entries_without_their_images_are_incomplete(tmp_path: Path) -> None:
    _write_set(tmp_path / "vimeo" / "sequences", 7)
    (tmp_path / "vimeo" / "sep_testlist.txt").write_text("alpha/00007\ngone/00001\nbeta/00003\n")
    _remove(tmp_path / "vimeo" / "sequences", "beta/00003/im5.png")
    targets = find_targets(tmp_path / "vimeo", "septuplet", 2)
    assert [s.name for s in targets.samples] == ["alpha/00007"]
    assert targets.incomplete == [
        IncompleteTarget("gone/00001", ("im3.png", "im5.png", "im4.png")),
        IncompleteTarget("beta/00003", ("im5.png",)),
    ]


def test_cli_counts_and_names_incomplete_targets(septuplets: Path, tmp_path: Path, capsys) -> None:
    _remove(septuplets, "alpha/00000/im4.png", "beta/00003/im6.png")
    out = tmp_path / "eval.json"
    args = ["eval", "--data", str(septuplets), "--baseline-only", "--quiet", "--json", str(out)]
    assert main(args) == 0
    report = json.loads(out.read_text())
    assert report["count"] == 2 and report["incomplete"] == [{"name": "alpha/00000", "missing": ["im4.png"]}]
    assert "1 incomplete target left out: alpha/00000 (no im4.png)" in capsys.readouterr().out


def test_json_never_replaces_the_model_or_ground_truth(septuplets: Path, tmp_path: Path, capsys) -> None:
    # issue 28, item 10: `tempo eval --json m.safetensors` replaced the model, `--json .../im4.png` ground truth
    from tempo_core.checkpoint import save_weights
    from tempo_core.network.config import tempo_tiny
    from tempo_core.network.model import TempoNet

    model = save_weights(TempoNet(tempo_tiny()), tmp_path / "m.safetensors")
    truth = next(septuplets.rglob("im4.png"))
    kept = {path: path.read_bytes() for path in (model, truth)}
    base = ["eval", "--data", str(septuplets), "--checkpoint", str(model), "--device", "cpu", "--quiet"]
    for target, flags, words in [
        (model, [], "would overwrite another input of this run"),
        (model, ["--overwrite"], "would overwrite another input of this run"),
        (truth, ["--baseline-only", "--overwrite"], "would overwrite another input of this run"),
    ]:
        assert main([*base, *flags, "--json", str(target)]) == 1
        err = capsys.readouterr().err
        assert words in err and "Traceback" not in err
    assert {path: path.read_bytes() for path in kept} == kept
    out = tmp_path / "eval.json"
    out.write_text("an earlier result")
    assert main([*base, "--baseline-only", "--json", str(out)]) == 1 and out.read_text() == "an earlier result"
    assert main([*base, "--baseline-only", "--json", str(out), "--overwrite"]) == 0
    assert json.loads(out.read_text())["count"] > 0
