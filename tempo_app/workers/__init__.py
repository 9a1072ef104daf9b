"""The app's background work, each on a thread of its own so the window never waits: opening a
clip, reading real frames, thumbnails, the scene-cut scan, the model (loading, synthesis,
exports) and the export queue. The UI thread never joins one while the user works (only when
the app closes).

One signal vocabulary: ``progress`` (how far), ``result`` (what it made: a frame, a clip's
reader, a thumbnail, the scene cuts, an export), ``failed`` (one plain sentence), and Qt's own
``started`` / ``finished`` of the thread. A few name a second kind of outcome beside them: an
export's ``cancelled`` and ``reported``, the model thread's ``model_loaded`` / ``model_failed``,
``request_finished`` (a synthesis request done, its result or failure emitted or dropped) and
``gpu_note``.
"""
