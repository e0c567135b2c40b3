"""sadutils: the package behind the companion to "On recognizing emotion of sadness in images of
a general nature using CNN" — data loaders, demo data, models, training, evaluation, reporting.
"""
import os

# Hide TensorFlow's C++ info and warning messages, which bury the output that matters in
# notebooks and logs (errors still show; TF 2.21 prints a few start-up lines through absl before
# this setting is read). A value set by the user wins.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__all__ = ["config", "datasets", "download", "evaluation", "experiments", "images", "models",
           "pipeline", "reporting", "training"]
