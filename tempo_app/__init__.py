"""TEMPO desktop app (PySide6): open a clip, scrub in continuous time, synthesize, export.

Structure (napari / superqt style):

Three packages, plus the pieces that tie them together at the top:

* :mod:`tempo_app.state`: what the user is looking at, knowing nothing of widgets:
  :mod:`tempo_app.state.session` (clip, playhead, anchors and scene cuts by the export's own rule,
  in/out points), :mod:`tempo_app.state.view_state` (overlay and compare),
  :mod:`tempo_app.state.model_state` (checkpoint, device, precision, measured speed),
  :mod:`tempo_app.state.confidence_track` (frame scores from an export report or from scrubbing).
* :mod:`tempo_app.workers`: off the UI thread, talking only through typed signals. The two long-lived ones are
  :class:`~tempo_app.workers.latest_wins.LatestWinsThread` s (queued jobs, latest request wins):
  :mod:`tempo_app.workers.model_worker` owns the model (synthesis, model loading, export and speed
  probe jobs from :mod:`tempo_app.workers.export_job`), :mod:`tempo_app.workers.frame_reader` decodes the
  real frames the viewer shows. :mod:`tempo_app.workers.thumbnails`,
  :mod:`tempo_app.workers.scene_cuts` and :mod:`tempo_app.workers.clip_opener` each read the
  clip once in the background; the UI thread never waits for one while the user works.
* :mod:`tempo_app.display` decides what the viewer shows for the playhead (a picture, or what it
  waits for); :mod:`tempo_app.controller` ties state and workers together;
  :mod:`tempo_app.widgets` (the views) observe state and write back through setters;
  :mod:`tempo_app.main_window` only composes and wires.
* Qt-free helpers: :mod:`tempo_app.colormap` (the doubt overlay),
  :mod:`tempo_app.state.export_estimate` (frames and time before an export),
  :mod:`tempo_app.platform_check` (one sentence when Qt's platform plugin cannot start).

Every :class:`~tempo_core.video.reader.VideoReader` is used by one thread only: each worker opens
its own, and the clip opener hands the viewer's over to the frame reader.
"""

__all__ = ["__version__"]
__version__ = "0.1.0"
