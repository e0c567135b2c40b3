"""The paper's experiments, one module per step, each leaving a results record behind.

* :mod:`~sadutils.experiments.text_classifier` (notebook 01): the text-in-image classifier.
* :mod:`~sadutils.experiments.filtering` (notebook 02): the WEBEmo sample, filtered for text;
  :mod:`~sadutils.experiments.text_methods`: how an image is scored for text (the paper's
  classifier, the OCR detector) and how the two agree.
* :mod:`~sadutils.experiments.finetune` (notebooks 03 and 05): each backbone on the filtered
  WEBEmo split; Table 1; and with another ``train_filter``, the runs of the text ablation
  (notebook 07).
* :mod:`~sadutils.experiments.cross_dataset` (notebook 04): the trained models on UnbiasedEmo
  and Emotion-6; Tables 2 and 3.

:mod:`~sadutils.experiments.common` holds the recipe they share. Every function takes the
:class:`~sadutils.workspace.Workspace` it works in; the notebooks are thin callers.
"""
from .common import RunResult, dataset_roots
from .cross_dataset import EvalSet, build_eval_set, evaluate_model, run_cross_dataset, trained_models
from .filtering import FilterResult, filter_webemo, sample_webemo, threshold_sweep
from .finetune import (filter_row, pretrained_reference, sample_split,
                       train_backbone, training_split)
from .text_classifier import evaluate_ocr, text_classifier_manifest, train_text_classifier
from .text_methods import (agreement_frame, method_agreement, resolve_text_method, score_text,
                           text_scores)

__all__ = ["EvalSet", "FilterResult", "RunResult", "agreement_frame", "build_eval_set",
           "dataset_roots", "evaluate_model", "evaluate_ocr", "filter_row", "filter_webemo",
           "method_agreement", "pretrained_reference", "resolve_text_method", "run_cross_dataset",
           "sample_split", "sample_webemo", "score_text", "text_classifier_manifest",
           "text_scores", "threshold_sweep", "train_backbone", "train_text_classifier",
           "trained_models", "training_split"]
