# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Does removing text matter?
#
# The paper's preprocessing rests on one claim: images with text must go, because written words
# can carry the emotion instead of the picture. It never tests that claim. This notebook does,
# beyond the paper, with the runs of notebook 03 that trained one backbone on the WEBEmo
# sample **unfiltered** and as each text method **filters** it (`train_filter`: `none`, `cnn`
# the paper's classifier, `ocr` the OCR detector, `both`). All of them share one split of the
# whole sample, so:
#
# 1. the test images that *no* method finds text in are in every model's test part: the models
#    are compared on exactly these, with seed spread, intervals and McNemar's test as in
#    Table 1;
# 2. the test images that *do* carry text (what the filters removed) are shown to every model
#    too;
# 3. **does a model read?** On each test image where the OCR detector finds text, the model
#    is asked again with the text removed (inpainted from its surroundings, or blurred:
#    `mask_method`), and, as a placebo, with regions of the same shapes removed where there is
#    no text. A model that uses the text changes its answer when the text goes; the share of
#    answers that flip is compared between the unfiltered and the filtered models, with a
#    paired bootstrap interval over the images. Grad-CAM shows how much of each model's heat
#    lies on the text.
#
# The demo data plants a **positive control** (see the Data page): captions of sad words, far
# more often on sadness images than on others. A model trained without the filter can learn to
# use them, so the method must find that the unfiltered model relies on text more than a
# filtered one; if it cannot, it is not sensitive enough, and the last part says so.
#
# Everything shown here is saved under `results/<profile>/text_ablation/`, from where the
# book's chapter "Does removing text matter?" shows it.

# %% tags=["parameters"]
profile = "demo"
backbone_names = None      # None: every backbone the ablation's runs trained; or a list
mask_method = "inpaint"   # how text is removed: inpaint (filled from its border) or blur
held_out = 400            # WEBEmo images outside the sample (no model saw them) searched for
#                           text to probe besides the test images with text; 0: none
examples = 6              # images with text shown before and after their text is removed
data_root = None
results_root = None
notebook_name = None

# %%
from IPython.display import Markdown, display

from sadutils import settings
from sadutils.analysis import text_ablation as ablation
from sadutils.analysis import text_reliance as reliance
from sadutils.reporting import text_ablation as report
from sadutils.workspace import Workspace, shown_path

settings.check_parameters(globals())  # a bad value stops here, saying what is expected
ws = Workspace.create(profile, data_root, results_root)
chapter = report.TEXT_ABLATION.new(ws, notebook_name)


def show(item):
    """Display a chapter item: Markdown text, or a table or figure as it is."""
    display(Markdown(item) if isinstance(item, str) else item)


# %% [markdown]
# ## The models
#
# Each row is one backbone trained on one version of the sample, once per seed (the runs
# `03_train-<backbone>-filter-<filter>-seed<seed>`); a run with the filter notebook 02 applied
# is the Table 1 model itself, reused.

# %%
chapter.start("models")
rows = ablation.ablation_rows(ws, backbone_names)
if not rows:
    raise RuntimeError("no runs of the text ablation yet: run notebook 03 with train_filter "
                       "set (sadutils reproduce runs them)")
show(chapter.table(report.models_table(rows), "models"))
test = ablation.test_images(ws)
clean, with_text = test[~test["text"]], test[test["text"]]
show(chapter.markdown(report.test_images_note(test)))

# %% [markdown]
# Every model is loaded once: its answers on all test images, on the images with text before
# and after the text is removed (and the placebo), and its Grad-CAM maps of them. The
# predictions on each model's own test images are checked against those its run saved.

# %%
regions = ablation.text_regions(ablation.probe_images(ws, with_text, held_out))
probes = ablation.probe_models(ws, rows, test, regions, method=mask_method)
print(f"largest difference from the saved P(sadness): {probes.saved_gap:.2e}")
assert probes.saved_gap < 1e-3, "the models probed are not those of the records"

# %% [markdown]
# ## On the same text-free test images
#
# Mean over the seeds ± their standard deviation, with the 95% bootstrap interval of the mean,
# as in Table 1; McNemar's exact test of every pair on the same images, per seed,
# Holm-corrected.

# %%
chapter.start("clean")
summary, tests = ablation.compare_on(probes.predictions, clean["path"])
show(chapter.table(report.comparison_table(summary), "clean"))
show(chapter.table(report.tests_table(tests), "clean_mcnemar"))
show(chapter.markdown(report.comparison_reading(
    summary, tests, f"the {len(clean)} text-free test images")))

# %% [markdown]
# ## On the test images with text
#
# What the filters removed from the test part; the filtered models never saw such images.

# %%
chapter.start("text")
text_summary, text_tests = ablation.compare_on(probes.predictions, with_text["path"])
show(chapter.table(report.comparison_table(text_summary), "text"))
show(chapter.table(report.tests_table(text_tests), "text_mcnemar"))
show(chapter.figure(report.plot_comparison({"text-free": summary, "with text": text_summary}),
                    "accuracy"))
show(chapter.markdown(report.comparison_reading(
    text_summary, text_tests, f"the {len(with_text)} test images with text")))

# %% [markdown]
# ## Does a model read? Its answers with the text removed

# %%
chapter.start("reliance")
flips = reliance.flips(probes.masked)
table = reliance.reliance_table(flips)
show(chapter.markdown(report.probed_note(regions, mask_method, reliance.MARGIN)))
show(chapter.table(report.reliance_frame(table), "reliance"))
show(chapter.figure(report.plot_reliance(table), "reliance"))
differences = ablation.reliance_differences(flips, rows)
show(chapter.table(report.differences_frame(differences), "reliance_differences"))
show(chapter.markdown(report.reliance_reading(table, differences, mask_method)))
examples_shown = ablation.masked_examples(probes, regions, flips)
if examples_shown:
    show(chapter.figure(report.plot_masked_examples(examples_shown, examples),
                        "masked_examples"))

# %% [markdown]
# ## Grad-CAM heat on the text
#
# Grad-CAM of the class *sadness* on the images with text: the share of each map's heat inside
# the OCR detector's text boxes against the share of the image they cover (the maps of these
# small models are coarse: a few cells across the image).

# %%
chapter.start("gradcam")
show(chapter.table(report.cam_table(probes.cams), "gradcam"))
show(chapter.markdown(report.cam_reading(probes.cams)))

# %% [markdown]
# ## What the numbers say

# %%
chapter.start("reading")
show(chapter.markdown(report.control_reading(ablation.positive_control(ws), differences)))
show(chapter.markdown(report.comparison_reading(
    summary, tests, f"the {len(clean)} text-free test images")))
show(chapter.markdown(report.reliance_reading(table, differences, mask_method)))

# %% [markdown]
# Everything shown above is saved for the book's chapter.

# %%
print(shown_path(chapter.save()))
