"""Beyond the paper's tables: what the trained models get wrong, where they look, and why they
lose points on other datasets (notebook ``06_analysis``).

Everything here reads what the pipeline already saved, through the results records: the test
predictions of each Table 1 model and of each cross-dataset test, and the trained models.
:mod:`~sadutils.analysis.sources` finds them; :mod:`~sadutils.analysis.groups` gives the share
called sadness per fine emotion or object with Wilson intervals;
:mod:`~sadutils.analysis.prior_shift` separates the class ratio's part of the cross-dataset drop
from the images'; :mod:`~sadutils.analysis.gradcam` computes Grad-CAM maps (its function
:func:`~sadutils.analysis.gradcam.gradcam` is not re-exported: the module keeps the name); and
:mod:`~sadutils.analysis.failures` chooses the images to look at. The figures are
:mod:`sadutils.reporting.analysis`'.
"""
from .failures import confident_mistakes, shared_picks
from .gradcam import GradCam, gradcam_for_records, heat_summary, split_model
from .groups import object_separation, rates_by_model, sadness_call_rates, wilson_interval
from .prior_shift import (class_rates, drop_decomposition, drop_table, expected_curve,
                          expected_metrics, ratio_subset, ratio_sweep)
from .sources import (Predictions, by_model, cross_predictions, read_predictions,
                      table1_predictions)

__all__ = ["GradCam", "Predictions", "by_model", "class_rates", "confident_mistakes",
           "cross_predictions", "drop_decomposition", "drop_table", "expected_curve",
           "expected_metrics", "gradcam_for_records", "heat_summary",
           "object_separation", "rates_by_model", "ratio_subset", "ratio_sweep",
           "read_predictions", "sadness_call_rates", "shared_picks", "split_model",
           "table1_predictions", "wilson_interval"]
