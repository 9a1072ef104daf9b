"""`tempo train`: tiny runs on frames made here; resume equals an uninterrupted run; DDP on CPU."""

from __future__ import annotations

import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

import numpy as np
import pytest
import torch
from PIL import Image

from tempo_core.commands import cli
from tempo_core.errors import InputError, OutputError
from tempo_core.training import trainer as trainer_module
from tempo_core.training.command import main
from tempo_core.training.optim import WarmupCosine
from tempo_core.training.processes import pick_device
from tempo_core.training.state import atomic_save

ROOT = Path(__file__).resolve().parents[3]


def make_frames(folder: Path, count: int = 10, height: int = 40, width: int = 56) -> Path:
    """A random texture panning 2 pixels per frame."""
    folder.mkdir(parents=True, exist_ok=True)
    base = np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)
    for i in range(count):
        Image.fromarray(np.roll(base, 2 * i, axis=1)).save(folder / f"{i:04d}.png")
    return folder


def make_septuplets(root: Path, count: int = 2) -> Path:
    for k in range(count):
        frames = make_frames(root / "clip" / f"{k:05d}", 7, 36, 40)
        for i in range(7):
            (frames / f"{i:04d}.png").rename(frames / f"im{i + 1}.png")
    return root


def train_args(tmp_path: Path, name: str, *extra: str) -> list[str]:
    return [
        "--data_root", str(tmp_path / "frames"), "--preset", "tiny", "--crop", "32",
        "--batch_size", "2", "--runs_dir", str(tmp_path / "runs"), "--name", name,
        "--num_workers", "0", "--log_every", "1", "--seed", "3", *extra,
    ]  # fmt: skip


def load(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


@pytest.fixture()
def frames(tmp_path):
    return make_frames(tmp_path / "frames")


def test_tiny_run_writes_run_folder_and_checkpoints(tmp_path, frames, capsys):
    val = make_septuplets(tmp_path / "val")
    args = train_args(
        tmp_path, "tiny", "--max_steps", "3", "--val_root", str(val), "--val_crop", "32",
        "--val_n", "2,4", "--amp_dtype", "bf16", "--n_frames", "2,4",
    )  # fmt: skip
    assert cli.main(["train", *args]) == 0
    out = capsys.readouterr().out
    assert "it/s" in out and "ETA" in out and "validation step 3: PSNR" in out
    run = tmp_path / "runs" / "tiny"
    config = json.loads((run / "config.json").read_text())
    assert config["model"]["base_channels"] == 16 and config["amp_dtype"] == "bf16"
    assert config["perceptual_loss"]["enabled"] in (True, False)
    if not config["perceptual_loss"]["enabled"]:
        assert "VGG" in config["perceptual_loss"]["reason"]
    metrics = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in metrics if "loss" in m] == [1, 2, 3]
    assert all(np.isfinite(m["loss"]) for m in metrics if "loss" in m)
    assert any("val_psnr" in m for m in metrics)
    assert any("val_psnr_n4" in m and -1 <= m["val_conf_spearman"] <= 1 for m in metrics)
    try:
        import tensorboard  # noqa: F401

        assert list((run / "tb").glob("events.out.tfevents.*"))
    except ImportError:
        assert "metrics.jsonl" in config["logging"]
    for name in ("latest.pt", "best.pt"):
        state = load(run / "checkpoints" / name)
        assert state["step"] == 3 and state["metric_name"] == "val_psnr"
        assert all(torch.isfinite(v).all() for v in state["model"].values())
    assert not list((run / "checkpoints").glob(".*tmp*"))


def test_stop_and_resume_equals_uninterrupted_run(tmp_path, frames):
    # 10 frames, 6 samples per epoch at batch 2: 3 steps per epoch, so the runs cross an epoch
    common = ("--max_steps", "5", "--samples_per_epoch", "6", "--save_every", "100")
    main(train_args(tmp_path, "whole", *common))
    main(train_args(tmp_path, "parts", *common, "--stop_at_step", "2"))
    stopped = load(tmp_path / "runs" / "parts" / "checkpoints" / "latest.pt")
    assert stopped["step"] == 2 and stopped["batch_in_epoch"] == 2
    main(["--resume", str(tmp_path / "runs" / "parts"), "--num_workers", "0"])
    whole = load(tmp_path / "runs" / "whole" / "checkpoints" / "latest.pt")
    parts = load(tmp_path / "runs" / "parts" / "checkpoints" / "latest.pt")
    assert whole["step"] == parts["step"] == 5 and whole["epoch"] == parts["epoch"] == 1
    # the resumed run trained on: its weights moved away from the stopped run's
    assert any(not torch.equal(stopped["model"][key], value) for key, value in parts["model"].items())
    for weights in ("model", "ema"):
        for key, value in whole[weights].items():
            torch.testing.assert_close(parts[weights][key], value, rtol=0, atol=0, msg=key)
    for key, value in whole["optimizer"]["state"].items():
        for field, tensor in value.items():
            torch.testing.assert_close(parts["optimizer"]["state"][key][field], tensor, rtol=0, atol=0)
    assert torch.equal(whole["rng"]["torch"], parts["rng"]["torch"])


def test_checkpoint_write_crash_keeps_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "checkpoints" / "latest.pt"
    atomic_save({"step": 1, "w": torch.ones(3)}, path)

    def crash(obj, handle):
        handle.write(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(OSError):
        atomic_save({"step": 2, "w": torch.zeros(3)}, path)
    state = load(path)
    assert state["step"] == 1 and torch.equal(state["w"], torch.ones(3))
    assert [p.name for p in path.parent.iterdir()] == ["latest.pt"]


def test_warmup_cosine_schedule():
    opt = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    schedule = WarmupCosine(opt, 1e-3, 1e-6, total_steps=100, warmup=10)
    lrs = [schedule.set_step(s) for s in range(101)]
    assert lrs[0] == pytest.approx(1e-4) and lrs[9] == pytest.approx(1e-3)
    assert all(a >= b for a, b in zip(lrs[9:], lrs[10:], strict=False))
    assert lrs[100] == pytest.approx(1e-6) and opt.param_groups[0]["lr"] == lrs[100]


def test_user_errors_are_plain(tmp_path, frames):
    with pytest.raises(InputError, match="multiple of 32"):
        main(train_args(tmp_path, "bad", "--crop", "40", "--max_steps", "1"))
    with pytest.raises(InputError, match="torchrun"):
        main(train_args(tmp_path, "ddp", "--distributed"))
    with pytest.raises(InputError, match="No training checkpoint"):
        main(["--resume", str(tmp_path / "nowhere")])


def test_bare_cuda_device_gets_this_process_gpu_index():
    # torch.cuda.set_device and DDP refuse a device without an index ("cuda" crashed --device cuda)
    assert pick_device("cuda") == torch.device("cuda", 0)
    assert pick_device("cuda", local_rank=3) == torch.device("cuda", 3)
    assert pick_device("cuda:1", local_rank=3) == torch.device("cuda", 1)
    assert pick_device("cpu") == torch.device("cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_device_without_a_gpu_is_a_plain_error(tmp_path, frames):
    with pytest.raises(InputError, match="sees none here"):
        main(train_args(tmp_path, "gpu", "--device", "cuda", "--max_steps", "1"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_ddp_two_processes_on_cpu_with_gloo(tmp_path, frames):
    command = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
        "--master_addr", "127.0.0.1", "--master_port", str(free_port()),
        "-m", "tempo_core", "train", "--distributed", "--device", "cpu",
        *train_args(tmp_path, "ddp", "--max_steps", "2"),
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    if Path("/sys/class/net/lo").exists():
        env.setdefault("GLOO_SOCKET_IFNAME", "lo")  # sandboxes may not resolve the host name
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    run = tmp_path / "runs" / "ddp"
    assert json.loads((run / "config.json").read_text())["world_size"] == 2
    state = load(run / "checkpoints" / "latest.pt")
    assert state["step"] == 2
    assert result.stdout.count("run ") == 1, "only rank 0 logs"


class FakeClock:
    """A clock that moves ``tick`` seconds each time it is read: the run sees a steady speed."""

    def __init__(self, tick: float) -> None:
        self.now, self.tick = 1000.0, tick

    def __call__(self) -> float:
        self.now += self.tick
        return self.now


def test_time_budget_stops_with_checkpoint_and_fp16_uses_grad_scaler(tmp_path, frames, capsys, monkeypatch):
    # the run's clock, not the wall clock: 0.2 s a reading, so the 2 s budget ends after a few steps
    monkeypatch.setattr(trainer_module, "clock", FakeClock(0.2))
    main(train_args(tmp_path, "budget", "--time_budget", "2", "--amp_dtype", "fp16",
                    "--log_every", "1000"))  # fmt: skip
    state = load(tmp_path / "runs" / "budget" / "checkpoints" / "latest.pt")
    assert 1 <= state["step"] <= state["scheduler"]["total_steps"] < 10  # fitted to the budget, not 100 epochs
    assert "scale" in state["scaler"]
    assert all(torch.isfinite(v).all() for v in state["model"].values())
    out = capsys.readouterr().out
    assert "steps fit in the time budget" in out and "stopped at step" in out


class LineReader:
    """Reads a process's output on a thread, so every wait here has a deadline: a silent or
    stuck process fails the test instead of hanging it."""

    def __init__(self, stream: IO[str]) -> None:
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.text = ""
        threading.Thread(target=self._pump, args=(stream,), daemon=True).start()

    def _pump(self, stream: IO[str]) -> None:
        for line in stream:
            self.lines.put(line)
        self.lines.put(None)

    def until(self, needle: str | None, seconds: float) -> str:
        """All output up to a line holding ``needle`` (``None``: up to the end of the stream)."""
        deadline = time.monotonic() + seconds
        while needle is None or needle not in self.text:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                pytest.fail(f"waited {seconds} s for {needle or 'the end'!r}; output so far:\n{self.text[-2000:]}")
            if line is None:
                if needle is None:
                    break
                pytest.fail(f"the output ended before {needle!r}:\n{self.text[-2000:]}")
            self.text += line
        return self.text


@pytest.mark.slow
def test_sigterm_checkpoints_the_last_step(tmp_path, frames):
    command = [sys.executable, "-m", "tempo_core", "train", "--threads", "1",
               *train_args(tmp_path, "term", "--max_steps", "100000")]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)  # fmt: skip
    try:
        reader = LineReader(proc.stdout)
        reader.until("step 1/", seconds=300)
        proc.send_signal(signal.SIGTERM)
        output = reader.until(None, seconds=300)
        proc.wait(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, output
    state = load(tmp_path / "runs" / "term" / "checkpoints" / "latest.pt")
    assert state["step"] >= 1 and f"interrupted: latest.pt holds step {state['step']}" in output


def test_non_finite_loss_skips_the_update(tmp_path, frames):
    import argparse

    from tempo_core.training.command import add_arguments, load_run
    from tempo_core.training.trainer import Trainer

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    trainer = Trainer(*load_run(parser.parse_args(train_args(tmp_path, "nan", "--max_steps", "2"))))
    try:
        before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
        real = trainer.criterion.forward
        trainer.criterion.forward = lambda *a, **k: (real(*a, **k)[0] * float("nan"), {})
        trainer.sampler.set_epoch(0)
        loss, _, _ = trainer.train_step(next(iter(trainer.loader)))
        assert loss != loss  # NaN reported, no update made
        assert all(torch.equal(before[k], v) for k, v in trainer.model.state_dict().items())
    finally:
        trainer.close()


def test_init_weights_fine_tunes_from_a_model_file(tmp_path, frames):
    from tempo_core.commands.export import export_checkpoint

    main(train_args(tmp_path, "base", "--max_steps", "2", "--ema_decay", "0"))
    model_file = tmp_path / "base.safetensors"
    export_checkpoint(tmp_path / "runs" / "base" / "checkpoints" / "latest.pt", model_file)
    main(train_args(tmp_path, "tuned", "--max_steps", "1", "--lr", "0", "--weight_decay", "0",
                    "--warmup_steps", "0", "--ema_decay", "0", "--init_weights", str(model_file)))  # fmt: skip
    base = load(tmp_path / "runs" / "base" / "checkpoints" / "latest.pt")["model"]
    tuned = load(tmp_path / "runs" / "tuned" / "checkpoints" / "latest.pt")["model"]
    assert all(torch.equal(base[name], tuned[name]) for name in base)
    with pytest.raises(InputError, match="other model size flags"):
        main(train_args(tmp_path, "other", "--max_steps", "1", "--base_channels", "24",
                        "--init_weights", str(model_file)))  # fmt: skip


def test_run_config_parses_the_flags_once_and_resume_fills_the_defaults(tmp_path):
    from tempo_core.training.command import flag_defaults
    from tempo_core.training.run_config import RunConfig

    defaults = flag_defaults()
    given = {**defaults, "data_root": "clips", "n_frames": "2,4,6", "val_n": "[4]", "lr": 3e-4, "_run": print}
    config = RunConfig.from_flags(given, defaults)
    assert config.data.n_frames == (2, 4, 6) and config.data.val_n == (2, 4)
    assert config.data.cache_dir == Path("runs") / "cache" and config.optim.loss.full_from == 20
    assert "_run" not in config.flags and config.metric_name == "train_charbonnier"
    stored = {**config.flags, "lr": 1e-3, "epochs": 7, "stop_at_step": 9, "val_root": "val"}
    resumed = RunConfig.from_flags({**defaults, "lr": 5e-4}, defaults, stored)
    # flags given again win, defaults take the stored run's values, stop rules are never resumed
    assert resumed.optim.lr == 5e-4 and resumed.optim.epochs == 7 and resumed.run.stop_at_step == 0
    assert resumed.data.n_frames == (2, 4, 6) and resumed.metric_name == "val_psnr"
    with pytest.raises(InputError, match="integers separated by commas"):
        RunConfig.from_flags({**given, "n_frames": "2,x"}, defaults)
    with pytest.raises(InputError, match="--schedule needs two epochs"):
        RunConfig.from_flags({**given, "schedule": "5"}, defaults)
    with pytest.raises(InputError, match="--data_root is required"):
        RunConfig.from_flags(defaults, defaults)


def test_progress_round_trips_through_the_checkpoint_keys():
    from tempo_core.training.progress import Progress

    progress = Progress()
    for loss in (0.5, float("nan"), 0.25):
        progress.add_step(loss)
    assert (progress.step, progress.batch_in_epoch, progress.epoch_loss_count) == (3, 3, 2)
    state = progress.state_dict()
    assert np.isnan(state["best_metric"])  # none yet, stored as NaN (the checkpoint format)
    assert progress.end_epoch() == pytest.approx(0.375)
    assert (progress.epoch, progress.batch_in_epoch, progress.epoch_loss_count) == (1, 0, 0)
    restored = Progress()
    restored.load_state_dict({**state, "best_metric": 31.5, "best_step": 2, "format": "ignored"})
    assert restored.step == 3 and restored.epoch_loss_sum == 0.75 and restored.best_metric == 31.5
    assert Progress(**{**restored.__dict__}) == restored


def test_data_without_a_usable_clip_is_one_plain_sentence(tmp_path, capsys):
    (tmp_path / "frames").mkdir()
    (tmp_path / "frames" / "broken.mkv").write_bytes(b"\x1a\x45\xdf\xa3 not really matroska" * 50)
    assert cli.main(["train", *train_args(tmp_path, "bad", "--max_steps", "1")]) == 1
    captured = capsys.readouterr()
    assert "warning: Could not decode the video" in captured.out and "broken.mkv" in captured.out
    error = captured.err.strip()
    assert error.startswith("tempo train: None of the 1 videos or frame folders") and "\n" not in error
    assert "Errno" not in error and "Traceback" not in error


def test_a_run_never_writes_into_an_existing_folder_that_is_not_a_run(tmp_path, frames):
    # issue 28, item 10: `tempo train --runs_dir user --name docs` wrote into the user's folder
    docs = tmp_path / "runs" / "docs"
    docs.mkdir(parents=True)
    (docs / "notes.txt").write_text("the user's")
    (docs / "config.json").write_text("{}")
    with pytest.raises(OutputError, match="is not a TEMPO run folder"):
        main(train_args(tmp_path, "docs", "--max_steps", "1"))
    assert sorted(p.name for p in docs.iterdir()) == ["config.json", "notes.txt"]
    assert (docs / "config.json").read_text() == "{}"
    (tmp_path / "runs" / "a_file").write_text("x")
    with pytest.raises(OutputError, match="is a file, not a run folder"):
        main(train_args(tmp_path, "a_file", "--max_steps", "1"))
    empty = tmp_path / "runs" / "empty"
    empty.mkdir()
    main(train_args(tmp_path, "empty", "--max_steps", "1"))
    assert (empty / "checkpoints" / "latest.pt").is_file() and (empty / ".tempo-run").is_file()


@pytest.mark.parametrize("device", ["tpu", "meta", "cuda:x", ""])
def test_an_unknown_device_is_one_sentence(tmp_path, frames, device):
    # issue 28, item 9: torch's RuntimeError reached the user
    with pytest.raises(InputError, match=f"Unknown device '{device}'; use cpu, cuda, cuda:N"):
        main(train_args(tmp_path, "dev", "--device", device, "--max_steps", "1"))
    assert not (tmp_path / "runs" / "dev").exists()


def test_model_size_flags_beyond_the_model_file_limits_are_one_sentence(tmp_path):
    """``--base_channels 4000`` is refused before anything is built, as a model file's config would be."""
    with pytest.raises(InputError, match="base_channels must lie between 1 and 96"):
        main(train_args(tmp_path, "huge", "--base_channels", "4000"))
    assert not (tmp_path / "runs" / "huge").exists()
