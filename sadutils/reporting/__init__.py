"""Tables, figures and the helpers the book pages use.

:mod:`~sadutils.reporting.tables` (the paper's numbers beside ours, and each step's tables),
:mod:`~sadutils.reporting.table_html` (Tables 1-3 in the paper's shape, as HTML),
:mod:`~sadutils.reporting.figures` (matplotlib figures), :mod:`~sadutils.reporting.book` (what
the results page shows), :mod:`~sadutils.reporting.benchmarks` (what the performance page
shows) and :mod:`~sadutils.reporting.text_filter` (the two text methods side by side). Notebooks and book pages call these; none of them trains or evaluates anything.
"""
from .figures import figure_png, plot_confusion, plot_examples, plot_history, plot_metric_bars
from .table_html import comparison_html
from .tables import (NOT_RUN, comparison_table, cross_dataset_frame,
                     format_table, metrics_frame, profile_note, records_table, table_note,
                     tables_text, text_classifier_summary)
from .text_filter import (agreement_summary, method_note, plot_confusion_matrices,
                          text_methods_table)

__all__ = ["NOT_RUN", "agreement_summary", "comparison_html", "comparison_table",
           "cross_dataset_frame", "figure_png", "format_table", "method_note", "metrics_frame",
           "plot_confusion", "plot_confusion_matrices", "plot_examples", "plot_history",
           "plot_metric_bars", "profile_note", "records_table", "table_note", "tables_text",
           "text_classifier_summary", "text_methods_table"]
