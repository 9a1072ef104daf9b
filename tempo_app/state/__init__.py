"""The app's state: what is open, where the playhead is, which model is loaded, how the frame is
shown, what an export will cost. Qt-free classes or plain ``QObject`` models with a ``changed``
signal; no widgets and no threads here. Widgets observe these and write back through setters.
"""
