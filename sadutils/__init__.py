"""sadutils: the package behind the companion to "On recognizing emotion of sadness in images of
a general nature using CNN" — data loaders, demo data, models, training, evaluation, reporting.
"""
import os

# TensorFlow's C++ start-up chatter (CUDA probing, oneDNN notices) hides the output that matters
# in notebooks and logs; warnings and errors still show. A value set by the user wins.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__all__ = ["config", "datasets", "download", "evaluation", "experiments", "images", "models",
           "pipeline", "reporting", "training"]
