"""Local paths open local files only (issue 28, item 3): names FFmpeg would read as URLs.

A file named ``http:127.0.0.1:PORT.mp4`` or an output folder named ``http:127.0.0.1:PORT`` must
never reach the HTTP server listening there; ``concat:b.mp4`` is its own file, not ``b.mp4``;
``take:1.mp4`` opens. The server is real (``http.server`` on 127.0.0.1, in a thread) and
records every request it gets.
"""

from __future__ import annotations

import http.server
import threading
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch
from tempo_test_clips import frame_number, make_clip

from tempo_core.checkpoint import save_weights
from tempo_core.commands.cli import main
from tempo_core.local_files import ffmpeg_url
from tempo_core.network import build_tempo
from tempo_core.network.config import tempo_tiny
from tempo_core.training.clips import cached_clip, decode_video, find_clip_sources
from tempo_core.video.reader import VideoReader, check_video_header, probe
from tempo_core.video.writer import VideoWriter


class _Recorder(http.server.BaseHTTPRequestHandler):
    requests: list[str]

    def _record(self) -> None:
        self.requests.append(f"{self.command} {self.path}")
        self.send_response(404)
        self.end_headers()

    do_GET = do_POST = do_PUT = do_HEAD = _record

    def log_message(self, *args) -> None:  # keep the test output quiet
        pass


@pytest.fixture
def server():
    """A live HTTP server on 127.0.0.1: ``(port, requests it received)``."""
    requests: list[str] = []
    handler = type("Handler", (_Recorder,), {"requests": requests})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield httpd.server_address[1], requests
    finally:
        httpd.shutdown()
        httpd.server_close()


def _frames(path: Path) -> list[int]:
    with VideoReader(path) as reader:
        return [frame_number(image) for _, image in reader.iter_frames()]


def test_ffmpeg_url_is_the_absolute_local_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert ffmpeg_url("concat:b.mp4") == f"file:{tmp_path}/concat:b.mp4"
    assert ffmpeg_url(Path("/x/http:h:1.mp4")) == "file:/x/http:h:1.mp4"


def test_a_file_named_like_a_url_is_read_from_disk(tmp_path, server, monkeypatch):
    port, requests = server
    monkeypatch.chdir(tmp_path)
    name = f"http:127.0.0.1:{port}.mp4"
    make_clip(tmp_path / name, count=5, codec="libx264")
    check_video_header(name)
    assert _frames(Path(name)) == [0, 1, 2, 3, 4]
    assert probe(name).width == 64
    assert requests == []


def test_concat_and_take_names_are_their_own_files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    make_clip(tmp_path / "b.mp4", count=3, width=32, height=32, codec="libx264")
    make_clip(tmp_path / "concat:b.mp4", count=6, codec="libx264")
    make_clip(tmp_path / "take:1.mp4", count=4, codec="libx264")
    with VideoReader("concat:b.mp4") as reader:
        assert (reader.info.width, reader.info.frame_count) == (64, 6)  # not b.mp4's 32 x 32, 3 frames
    assert _frames(Path("take:1.mp4")) == [0, 1, 2, 3]


def test_an_output_folder_named_like_a_url_is_written_locally(tmp_path, server, monkeypatch):
    port, requests = server
    monkeypatch.chdir(tmp_path)
    folder = Path(f"http:127.0.0.1:{port}")
    folder.mkdir()
    source = make_clip(tmp_path / "in.mkv", count=3, audio=True)
    with VideoWriter(folder / "out.mp4", rate=Fraction(24), width=64, height=48, audio_source=source) as writer:
        for i in range(3):
            writer.write(np.full((48, 64, 3), 40 * i, np.uint8))
        writer.finish()
    assert probe(folder / "out.mp4").frame_count == 3
    assert requests == []


def test_interpolate_a_folder_into_a_url_named_folder_never_calls_the_server(tmp_path, server, monkeypatch, capsys):
    """The issue's commands: ``tempo interpolate . -o http:127.0.0.1:PORT/`` beside a clip of
    such a name."""
    port, requests = server
    torch.manual_seed(0)
    model = save_weights(build_tempo(tempo_tiny()), tmp_path / "tiny.safetensors")
    shots = tmp_path / "shots"
    shots.mkdir()
    make_clip(shots / f"http:127.0.0.1:{port}.mp4", count=3, width=32, height=24, codec="libx264")
    monkeypatch.chdir(tmp_path)
    argv = ["interpolate", "shots", "-o", f"http:127.0.0.1:{port}", "--factor", "2", "--codec", "ffv1"]
    code = main([*argv, "--checkpoint", str(model), "--device", "cpu", "--quiet"])
    assert code == 0, capsys.readouterr().err
    output = tmp_path / f"http:127.0.0.1:{port}" / f"http:127.0.0.1:{port}_x2.mkv"
    assert probe(output).frame_count == 6
    assert requests == []


def test_training_reads_url_named_clips_from_disk(tmp_path, server):
    port, requests = server
    root = tmp_path / "data"
    root.mkdir()
    make_clip(root / f"http:127.0.0.1:{port}.mp4", count=5, codec="libx264")
    (source,) = find_clip_sources(root)
    frames, times = decode_video(source)
    assert frames.shape == (5, 48, 64, 3) and [frame_number(f) for f in frames] == [0, 1, 2, 3, 4]
    assert len(cached_clip(source, tmp_path / "cache", 640)) == 5
    assert requests == []


def test_opencv_decodes_url_named_training_clips_from_disk(tmp_path, server):
    """Where PyAV is missing, training decodes with OpenCV: the same name stays a local file."""
    from tempo_core.training.cv2_video import decode_video_cv2, opencv_available

    if not opencv_available():
        pytest.skip("OpenCV is not installed")
    port, requests = server
    source = make_clip(tmp_path / f"http:127.0.0.1:{port}.mp4", count=5, codec="libx264")
    frames, _ = decode_video_cv2(source)
    assert [frame_number(f) for f in frames] == [0, 1, 2, 3, 4]
    assert requests == []
