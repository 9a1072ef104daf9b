"""Training a TEMPO network: ``tempo train`` and everything a run is made of.

:mod:`.command` holds the flags and resolves them into a run configuration; :mod:`.trainer`
drives the loop. A run is built from :mod:`.clips` and :mod:`.datasets` (frame sequences,
videos, Vimeo-90K layouts) through :mod:`.run_data`, optimised per :mod:`.optim` with the
loss of :mod:`.losses`, spread over processes by :mod:`.processes`, checkpointed by
:mod:`.state`, recorded by :mod:`.run_log` and scored by :mod:`.validation`. The network is
reached only through the public names of :mod:`tempo_core.network`.
"""
