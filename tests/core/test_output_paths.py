"""Nothing the user owns is ever lost: the output is never the source or a folder holding it,
folders are replaced only when TEMPO made them, a file that appears during a run is left alone,
and leftovers of killed runs are removed only when their writer is gone (issue 22)."""

import os
import subprocess
import sys
import time

import pytest
from tempo_test_clips import make_clip

from tempo_core.errors import OutputError
from tempo_core.video.engine import ExportSettings, run_export
from tempo_core.video.output_paths import MARKER, remove_stale_leftovers
from tempo_core.video.reader import probe

W, H = 32, 24


def snapshot(folder):
    """Every file under ``folder`` with its bytes."""
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def export(source, output, interpolator, **kw):
    kw.setdefault("codec", "ffv1")
    return run_export(ExportSettings(source, output, "factor", 2, **kw), interpolator)


def test_the_sources_folder_is_never_the_output(tmp_path, interpolator, monkeypatch):
    victim = tmp_path / "victim"
    victim.mkdir()
    source = make_clip(victim / "clip.mkv", count=2, width=W, height=H)
    (victim / "notes.txt").write_text("precious")
    before = snapshot(tmp_path)
    with pytest.raises(OutputError, match="folder that holds the source"):
        export(source, victim, interpolator, codec="png", overwrite=True)
    with pytest.raises(OutputError, match="folder that holds the source"):
        export(source, tmp_path, interpolator, codec="png", overwrite=True)
    monkeypatch.chdir(victim)
    with pytest.raises(OutputError, match=f"The output {victim} is the folder") as err:
        export(source, ".", interpolator, codec="png", overwrite=True)
    assert "\n" not in str(err.value)
    alias = victim / "alias.mkv"
    os.link(source, alias)  # the same file under another name
    with pytest.raises(OutputError, match="overwrite the source"):
        export(source, alias, interpolator, overwrite=True)
    alias.unlink()
    assert snapshot(tmp_path) == before


def test_only_a_folder_tempo_made_is_replaced(tmp_path, interpolator):
    source = make_clip(tmp_path / "clip.mkv", count=2, width=W, height=H)
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "frame_000000.png").write_bytes(b"a photo, not a frame")
    with pytest.raises(OutputError, match="TEMPO did not make"):
        export(source, photos, interpolator, codec="png", overwrite=True)
    assert snapshot(photos) == {photos.joinpath("frame_000000.png").relative_to(photos): b"a photo, not a frame"}
    frames = tmp_path / "frames"
    export(source, frames, interpolator, codec="png")
    assert (frames / MARKER).is_file() and len(list(frames.glob("frame_*.png"))) == 4
    with pytest.raises(OutputError, match="already exists"):
        export(source, frames, interpolator, codec="png")
    export(source, frames, interpolator, codec="png", overwrite=True)  # TEMPO's own: replaced
    (frames / "edit.txt").write_text("the user's")
    with pytest.raises(OutputError, match="TEMPO did not make"):
        export(source, frames, interpolator, codec="png", overwrite=True)
    assert (frames / "edit.txt").read_text() == "the user's"
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_a_file_that_appears_during_the_run_is_left_alone(tmp_path, interpolator):
    source = make_clip(tmp_path / "clip.mkv", count=3, width=W, height=H)
    out = tmp_path / "x2.mkv"

    def intruder(progress):
        if not out.exists():
            out.write_bytes(b"written by someone else meanwhile")

    settings = ExportSettings(source, out, "factor", 2, codec="ffv1")
    with pytest.raises(OutputError, match=r"left alone; the new output was saved as x2 \(new\)\.mkv"):
        run_export(settings, interpolator, progress=intruder)
    assert out.read_bytes() == b"written by someone else meanwhile"
    assert probe(tmp_path / "x2 (new).mkv").frame_count == 6


def test_overwrite_replaces_only_the_file_that_was_there_at_the_start(tmp_path, interpolator):
    source = make_clip(tmp_path / "clip.mkv", count=3, width=W, height=H)
    out = tmp_path / "x2.mkv"
    out.write_bytes(b"old version")

    def rewrite(progress):
        if out.read_bytes() == b"old version":
            out.write_bytes(b"a newer version saved by another program")

    with pytest.raises(OutputError, match="appeared or changed"):
        run_export(ExportSettings(source, out, "factor", 2, codec="ffv1", overwrite=True), interpolator, rewrite)
    assert out.read_bytes() == b"a newer version saved by another program"
    result = export(source, out, interpolator, overwrite=True)
    assert result.output_path == out and probe(out).frame_count == 6


def test_two_runs_to_one_output_one_wins_the_other_says_so(tmp_path, interpolator):
    source = make_clip(tmp_path / "clip.mkv", count=3, width=W, height=H)
    out = tmp_path / "x2.mkv"
    second: dict = {}

    def run_the_other_export_meanwhile(progress):
        if not second:
            second["result"] = export(source, out, interpolator)

    with pytest.raises(OutputError, match="appeared or changed while TEMPO was writing it"):
        run_export(ExportSettings(source, out, "factor", 2, codec="ffv1"), interpolator, run_the_other_export_meanwhile)
    assert second["result"].output_path == out and probe(out).frame_count == 6
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mkv", "x2 (new).mkv", "x2.mkv"]


@pytest.mark.skipif(sys.platform == "win32", reason="process ids are checked on POSIX only")
def test_stale_leftovers_are_removed_only_when_old_and_orphaned(tmp_path):
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    alive = os.getppid()
    names = {
        f".clip.tempo-{gone.pid}-0123abcd.partial.mkv": "removed",
        f".frames.tempo-{gone.pid}-0123abce.partial": "removed (folder)",
        f".frames.tempo-{gone.pid}-0123abcf.old": "removed (folder)",
        f".clip.tempo-{alive}-0123abcd.partial.mkv": "kept: its writer runs",
        ".clip.0123abcd.partial.mkv": "kept: not a name TEMPO gives",
        "clip.tempo-1-0123abcd.partial.mkv": "kept: not hidden",
    }
    for name, what in names.items():
        path = tmp_path / name
        if "folder" in what:
            path.mkdir()
            (path / "frame_000000.png").write_bytes(b"x")
        else:
            path.write_bytes(b"x")
        os.utime(path, (time.time() - 600, time.time() - 600))
    young = tmp_path / f".clip.tempo-{gone.pid}-0123abd0.partial.mkv"
    young.write_bytes(b"x")  # under a minute old: its run may still be starting
    removed = remove_stale_leftovers(tmp_path)
    assert sorted(removed) == sorted(n for n, what in names.items() if what.startswith("removed"))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [young.name, *(n for n, what in names.items() if what.startswith("kept"))]
    )
