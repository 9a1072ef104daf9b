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
from tempo_core.output_paths import MARKER, MARKER_TEXT, STAGING_TEXT, remove_stale_leftovers
from tempo_core.video.engine import ExportSettings, run_export
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


def _staging(folder, pid, token, *, marker_text=None, files=("partial.mkv",)):
    """A leftover as a killed TEMPO run leaves it: a hidden folder with TEMPO's marker inside."""
    path = folder / f".tempo-{pid}-{token}.partial"
    path.mkdir()
    (path / MARKER).write_text(marker_text or STAGING_TEXT)
    for name in files:
        (path / name).write_bytes(b"x")
    return path


@pytest.mark.skipif(sys.platform == "win32", reason="process ids are checked on POSIX only")
def test_stale_leftovers_are_removed_only_when_old_and_orphaned(tmp_path):
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    alive = os.getppid()
    removed_ones = [
        _staging(tmp_path, gone.pid, "0123abcd"),  # a staged video
        _staging(tmp_path, gone.pid, "0123abce", marker_text=MARKER_TEXT, files=("frame_000000.png",)),
    ]
    kept = [
        _staging(tmp_path, alive, "0123abcf"),  # its writer runs
        _staging(tmp_path, gone.pid, "0123abd1", files=("partial.mkv", "notes.txt")),  # something of the user's
        _staging(tmp_path, gone.pid, "0123abd2", marker_text="my own marker\n"),  # not TEMPO's text
    ]
    for path in [*removed_ones, *kept]:
        os.utime(path, (time.time() - 600, time.time() - 600))
    young = _staging(tmp_path, gone.pid, "0123abd0")  # under a minute old: its run may still be starting
    removed = remove_stale_leftovers(tmp_path)
    assert sorted(removed) == sorted(p.name for p in removed_ones)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in [*kept, young])


@pytest.mark.skipif(sys.platform == "win32", reason="process ids are checked on POSIX only")
def test_look_alike_names_without_tempos_marker_are_never_removed(tmp_path):
    # issue 28, item 11: names alone once sufficed, and a user's files went
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    photo = tmp_path / f".IMG_2024.tempo-{gone.pid}-0badc0de.partial.jpg"
    photo.write_bytes(b"a photo")
    old_style = tmp_path / f".clip.tempo-{gone.pid}-0123abcd.partial.mkv"
    old_style.write_bytes(b"a file under an old TEMPO name, but not marked")
    photos = tmp_path / f".photos.tempo-{gone.pid}-cafebabe.old"
    photos.mkdir()
    (photos / "beach.jpg").write_bytes(b"a photo")
    bare = tmp_path / f".tempo-{gone.pid}-cafebabf.partial"  # TEMPO's name, no marker
    bare.mkdir()
    (bare / "partial.mkv").write_bytes(b"the user's")
    for path in (photo, old_style, photos, bare):
        os.utime(path, (time.time() - 3600, time.time() - 3600))
    before = snapshot(tmp_path)
    assert remove_stale_leftovers(tmp_path) == []
    assert snapshot(tmp_path) == before


def test_png_overwrite_never_deletes_a_sub_folder_named_like_a_frame(tmp_path, interpolator):
    source = make_clip(tmp_path / "clip.mkv", count=2, width=W, height=H)
    frames = tmp_path / "frames"
    export(source, frames, interpolator, codec="png")
    inner = frames / "frame_999999.png"
    inner.mkdir()
    (inner / "mine.txt").write_text("the user's")
    with pytest.raises(OutputError, match="TEMPO did not make"):
        export(source, frames, interpolator, codec="png", overwrite=True)
    assert (inner / "mine.txt").read_text() == "the user's"


def test_a_dangling_symlink_at_the_output_is_refused_up_front(tmp_path, interpolator, capsys):
    # issue 28, item 12: the whole export used to run, then save "out (new).mp4" and exit 1
    source = make_clip(tmp_path / "clip.mkv", count=2, width=W, height=H)
    link = tmp_path / "out.mkv"
    link.symlink_to(tmp_path / "nowhere" / "gone.mkv")
    for overwrite in (False, True):
        with pytest.raises(OutputError, match="is a symbolic link to .*gone.mkv, which does not exist"):
            export(source, link, interpolator, overwrite=overwrite)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mkv", "out.mkv"] and link.is_symlink()
    from tempo_core.commands.cli import main

    code = main(["interpolate", str(source), "-o", str(link), "--factor", "2", "--codec", "ffv1", "--device", "cpu"])
    err = capsys.readouterr().err
    assert code == 1 and "which does not exist" in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mkv", "out.mkv"]
