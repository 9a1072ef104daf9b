"""Video in and out, and the export engine that turns a clip into a smoother or slower one.

:mod:`.reader` decodes with PyAV (frame-accurate seek, true presentation times, rotation, any
pixel format); :mod:`.timestamps` repairs the times containers give; :mod:`.timeline` plans
which source time every output frame shows and from which anchors; :mod:`.scenecut` finds the
cuts that must never be interpolated across; :mod:`.writer` encodes H.264 / HEVC / ProRes /
FFV1 / PNG behind a temporary name; :mod:`.engine` runs the whole export with progress and
cancellation. Nothing here imports Qt; the network is reached only through an ``Interpolator``.
"""
