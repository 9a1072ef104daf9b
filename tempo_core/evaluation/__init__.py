"""Measuring a model: :mod:`.metrics` (PSNR, SSIM, confidence ranking), :mod:`.targets` (the
triplet and septuplet targets of a data set, incomplete ones named), :mod:`.evaluate`
(``tempo eval`` on triplets and septuplets) and :mod:`.bench` (``tempo bench``: speed and
memory through the inference wrapper). The network is reached only through the public names
of :mod:`tempo_core.network` and the :class:`tempo_core.inference.Interpolator`.
"""
