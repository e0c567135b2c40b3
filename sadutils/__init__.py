"""sadutils: the package behind the companion to "On recognizing emotion of sadness in images of
a general nature using CNN".

Laid out as the pipeline runs (imports only go down): :mod:`~sadutils.config` and
:mod:`~sadutils.paper` (names, profiles, the paper's numbers), :mod:`~sadutils.workspace` (where
everything lives), :mod:`~sadutils.data` (the datasets' formats, manifests, downloads),
:mod:`~sadutils.demo` (synthetic data in those formats), :mod:`~sadutils.backbones`,
:mod:`~sadutils.weights` (their ImageNet files) and :mod:`~sadutils.models`,
:mod:`~sadutils.progress` (live progress for ``sadutils reproduce``),
:mod:`~sadutils.training` (with :mod:`~sadutils.checkpoints`), :mod:`~sadutils.inference`,
:mod:`~sadutils.text_detection` (the shipped OCR text detector),
:mod:`~sadutils.metrics`, :mod:`~sadutils.records`, :mod:`~sadutils.experiments` (one module per
step of the paper), :mod:`~sadutils.analysis` (beyond the paper: what the models get wrong and
where they look), :mod:`~sadutils.reporting`, :mod:`~sadutils.runner` (``sadutils
reproduce``) and :mod:`~sadutils.cli`.
"""
import os

# Hide TensorFlow's C++ info and warning messages, which bury the output that matters in
# notebooks and logs (errors still show). A value set by the user wins.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# One compute thread per process (TensorFlow reads these when its runtime starts). The number of
# threads changes the order of floating-point sums, so with it fixed the same seed gives the same
# numbers whatever the machine's core count or `sadutils reproduce --jobs`; the cores are used by
# running several notebooks at once instead (runner.parallel). A value set by the user wins.
os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")
os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")

from .quiet import quiet_kernel  # noqa: E402 - after the variables above, before TensorFlow

# In a notebook's kernel, TensorFlow's C++ lines go to a log, not into the notebook or the
# terminal (sadutils.quiet); elsewhere this does nothing.
quiet_kernel()
