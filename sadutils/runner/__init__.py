"""The pipeline runner: the notebook graph (:mod:`~sadutils.runner.steps`, read from
``notebooks/pipeline.yml``), what identifies a run's inputs
(:mod:`~sadutils.runner.fingerprints`) and ``sadutils reproduce``
(:mod:`~sadutils.runner.execute`).
"""
from .execute import ReproduceResult, reproduce
from .notebook import RunOutcome
from .steps import NotebookRun, load_runs

__all__ = ["NotebookRun", "ReproduceResult", "RunOutcome", "load_runs", "reproduce"]
