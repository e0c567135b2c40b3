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
# # Filtering WEBEmo: removing the images that carry text
#
# WEBEmo labels about 268,000 web images with 25 fine emotions, grouped into six at the second
# level. The paper maps the *sadness* group to the positive class and everything else to
# *others*, draws a random sample of 8,549 sadness and 9,971 others images (18,520 in all),
# and asks the text classifier of notebook 01 about each of them. Images it judges to contain
# text are dropped: 14,901 remain (6,697 sadness, 8,204 others).
#
# This notebook does the same: it samples, scores every image for text, applies a decision
# threshold (a parameter) and saves the *filtered manifest* that notebook 03 trains on. Two
# methods can decide (`text_method`): the paper's classifier of notebook 01 (`cnn`), or the
# pretrained OCR detector that ships with the package (`ocr`, no training), or `both` (an
# image is removed when either finds text). Whichever decides, the other is computed beside
# it, which gives a comparison no one has published: how many of the images the paper's
# classifier removes contain text by an independent detector, and the reverse.
#
# Under the `paper` profile the classifier decides, as in the paper. Under the `demo` profile
# the sample is proportionally smaller and synthetic, and the OCR detector decides when the
# text classifier had to be trained without ImageNet weights (offline): trained from random
# weights for three epochs it does not see text, and a filter built on it would remove images
# at random. The demo generator knows which images carry a text overlay, so the demo also
# measures the filter against that ground truth.

# %% tags=["parameters"]
profile = "demo"
threshold = None         # drop an image when P(text) is at least this; None: profile default
# (paper: 0.5, demo: "match_paper", the threshold that removes the same 19.5% as the paper)
sample_sadness = None    # None: the profile's sample (paper 8,549)
sample_others = None     # None: the profile's sample (paper 9,971)
text_method = None       # cnn, ocr or both; None: the profile's (paper: cnn; demo: ocr when
#                          the text classifier was trained without ImageNet weights, else cnn)
ocr_threshold = None     # drop an image when the OCR score is at least this; None: 0.5
seed = None
batch_size = 64
data_root = None
results_root = None
notebook_name = None

# %%
from IPython.display import Markdown, display

from sadutils import experiments, reporting, settings
from sadutils.config import OTHERS, SADNESS
from sadutils.workspace import Workspace, shown_path

settings.check_parameters(globals())  # a bad value stops here, saying what is expected
ws = Workspace.create(profile, data_root, results_root)
sample = None
if sample_sadness is not None or sample_others is not None:
    sample = {SADNESS: ws.profile.sample[SADNESS] if sample_sadness is None else sample_sadness,
              OTHERS: ws.profile.sample[OTHERS] if sample_others is None else sample_others}

# %% [markdown]
# ## Sample, score, filter

# %%
result = experiments.filter_webemo(ws, threshold=threshold, sample=sample, seed=seed,
                                   batch_size=batch_size, text_method=text_method,
                                   ocr_threshold=ocr_threshold, notebook=notebook_name)
display(Markdown(reporting.method_note(result)))
print(f"filtered manifest: {shown_path(result.filtered_path)}; record: "
      f"{shown_path(result.record_path)}")

# %% [markdown]
# ## Before and after, per class
#
# In the paper's shape, with the paper's counts beside ours, for the method named above.

# %%
print(reporting.profile_note(ws.name, [result.record]))
print(f"removed by: {result.method}")
result.counts

# %% [markdown]
# ## The two methods on the same images
#
# The decisions of the classifier (rows) and of the OCR detector (columns) on every sampled
# image both could read, how often they agree, and Cohen's kappa (agreement beyond what two
# independent coin flips with the same rates would reach: 0 is chance, 1 is perfect).

# %%
experiments.agreement_frame(result.agreement)

# %%
reporting.agreement_summary(result.agreement)

# %% [markdown]
# The images on which they disagree, with the OCR detector's score (the line it read is in
# the scored manifest, column `ocr_read`).

# %%
reporting.plot_examples(result.disagreements, by="decided", n=6, score="ocr_score")

# %% [markdown]
# ## Against the ground truth (demo only)
#
# The demo generator records which images it drew a text overlay on (`webemo_truth.csv`).
# For each method's decisions and for the filter as applied: how many of the images removed
# carry text (precision), and how many of the images with text are removed (recall). Some
# overlays are faint, cut by the frame or hidden on purpose, so not every one is legible.
# The paper profile's real images have no such record.

# %%
result.truth if result.truth is not None else "no ground truth of text overlays (paper profile)"

# %% [markdown]
# Unreadable files (failed or corrupt downloads) are listed here, not silently dropped.

# %%
result.rejected

# %% [markdown]
# ## How the threshold moves the cut
#
# The share of the sample each method would keep at other thresholds, from the same scores
# (`match_paper` is the threshold that removes the paper's 19.5%).

# %%
for column in ("p_text", "ocr_score"):
    if column in result.scored:
        display(Markdown(f"**{column}**"), experiments.threshold_sweep(result.scored,
                                                                       column=column))

# %% [markdown]
# ## What was discarded
#
# A sample of the images the filter removed, with the score of the method that decided.

# %%
reporting.plot_examples(result.discarded, by="label", n=6,
                        score="p_text" if result.method == "cnn" else "ocr_score")
