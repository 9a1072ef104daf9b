"""Training a TEMPO network: ``tempo train`` and everything a run is made of.

:mod:`.command` holds the flags and turns them, once, into a frozen
:class:`~.run_config.RunConfig` (data / model / optimisation / run sections); :mod:`.trainer`
drives the loop. Each helper takes its section, never the trainer: the data from :mod:`.clips`
and :mod:`.datasets` (frame sequences, videos, Vimeo-90K layouts) through :mod:`.run_data`,
optimisation per :mod:`.optim` with the loss of :mod:`.losses`, processes by :mod:`.processes`,
the position in the run in :mod:`.progress`, checkpoints by :mod:`.state`, records by
:mod:`.run_log` and scores by :mod:`.validation`. Imports run one way (command -> trainer ->
helpers -> run_config). The network is reached only through :mod:`tempo_core.network`'s public names.
"""
