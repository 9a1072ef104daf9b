"""TEMPO desktop app (PySide6): open a clip, scrub in continuous time, synthesize, export.

Structure (napari / superqt style):

* State classes hold what the user is looking at and know nothing of widgets:
  :mod:`tempo_app.session` (clip, playhead, anchors, in/out points),
  :mod:`tempo_app.view_state` (overlay and compare), :mod:`tempo_app.model_state` (checkpoint,
  device, precision).
* Workers run off the UI thread and talk only through typed signals:
  :mod:`tempo_app.model_worker` owns the model (synthesis with latest-request-wins, model loading,
  export), :mod:`tempo_app.thumbnails` decodes timeline thumbnails.
* :mod:`tempo_app.controller` ties state and workers together; :mod:`tempo_app.widgets` observe
  state and write back through setters; :mod:`tempo_app.main_window` only composes and wires.

Every :class:`~tempo_core.video.reader.VideoReader` is used by one thread only: the UI thread, the model
worker and the thumbnail loader each open their own.
"""

__all__ = ["__version__"]
__version__ = "0.1.0"
