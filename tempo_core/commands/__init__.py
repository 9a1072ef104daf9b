"""The ``tempo`` command line: :mod:`.cli` dispatches to one module per sub-command.

``interpolate``, ``info`` and ``export`` live here; ``train``, ``eval`` and ``bench`` are the
command modules of :mod:`tempo_core.training` and :mod:`tempo_core.evaluation`. Every command
module exposes ``add_arguments(parser)`` and ``run(args) -> int``.
"""
