"""The demo profile's data: deterministic synthetic images in the real datasets' on-disk formats.

The paper's data (WEBEmo, UnbiasedEmo, Emotion6, COCO-Text, RGP) is large, partly dead on the
web and partly licensed for academic use only, so the demo profile runs on images drawn here,
written in exactly the layouts the loaders of :mod:`sadutils.data` read: one code path serves
the demo and a real run. :mod:`~sadutils.demo.scenes` draws the photographs,
:mod:`~sadutils.demo.text` the text on some of them, :mod:`~sadutils.demo.writers` writes each
dataset's files, :mod:`~sadutils.demo.generate` the whole set with its marker, and
:mod:`~sadutils.demo.prepare` makes them ready as a user would (downloading the WEBEmo-like
URL lists).
"""
from .generate import MARKER_NAME, describe_demo, generate_demo_data
from .prepare import ensure_demo_data
from .writers import WEBEMO_TRUTH_NAME

__all__ = ["MARKER_NAME", "WEBEMO_TRUTH_NAME", "describe_demo", "ensure_demo_data",
           "generate_demo_data"]
