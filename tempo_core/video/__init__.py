"""Video in and out, and the export engine that turns a clip into a smoother or slower one.

:mod:`.reader` decodes with PyAV (frame-accurate seek, true presentation times, rotation, any
pixel format) after :mod:`.source_checks` has refused what a header alone shows to be unusable,
within the limits of :mod:`.limits` (frame size, memory, frame counts); :mod:`.timestamps`
repairs the times containers give; :mod:`.colour` keeps the source's matrix, range, tags and
bit depth from decoding to encoding; :mod:`.duplicates` finds repeated frames, to be made from
the motion between distinct ones; :mod:`.timeline` plans which source time every output frame
shows and from which anchors; :mod:`.scenecut` finds the cuts that must never be interpolated
across; :mod:`.writer` encodes H.264 / HEVC / ProRes / FFV1 / PNG behind a temporary name, in a
place :mod:`.output_paths` allows (never the source, never a file the run did not create);
:mod:`.pipeline` runs decoding, the model and encoding side by side; :mod:`.engine` plans and
runs the whole export with progress and cancellation; :mod:`.safety_net` scores every
synthesized frame (and replaces the doubtful ones when asked) and :mod:`.report` writes the
frame-by-frame report (:mod:`.report_records`) and its plot (:mod:`.report_plot`) beside
the output. Nothing here imports Qt; the network is reached only through an ``Interpolator``.
"""
