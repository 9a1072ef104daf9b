"""The app's background work, each on a thread of its own so the window never waits: opening a
clip, reading real frames, thumbnails, the scene-cut scan, the model (loading, synthesis,
exports) and the export queue. Workers report through Qt signals; the UI thread never joins one
while the user works (only when the app closes).
"""
