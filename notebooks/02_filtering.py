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
# This notebook does the same: it samples, scores every image for text in batches, applies a
# decision threshold (a parameter) and saves the *filtered manifest* that notebook 03 trains
# on. Under the `demo` profile the sample is proportionally smaller and synthetic.

# %% tags=["parameters"]
profile = "demo"
threshold = None         # drop an image when P(text) is at least this; None: profile default
# (paper: 0.5, demo: "match_paper", the threshold that removes the same 19.5% as the paper)
sample_sadness = None    # None: the profile's sample (paper 8,549)
sample_others = None     # None: the profile's sample (paper 9,971)
seed = None
batch_size = 64
data_root = None
results_root = None
notebook_name = None

# %%
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
                                   batch_size=batch_size, notebook=notebook_name)
print(f"threshold applied: {result.threshold:.4f}; filtered manifest: "
      f"{shown_path(result.filtered_path)}")

# %% [markdown]
# ## Before and after, per class
#
# In the paper's shape, with the paper's counts beside ours.

# %%
print(reporting.profile_note(ws.name, [result.record]))
result.counts

# %% [markdown]
# Unreadable files (failed or corrupt downloads) are listed here, not silently dropped.

# %%
result.rejected

# %% [markdown]
# ## How the threshold moves the cut
#
# The share of the sample kept at other thresholds, from the same scores.

# %%
experiments.threshold_sweep(result.scored)

# %% [markdown]
# ## What was discarded
#
# A sample of the images the filter removed, with their P(text).

# %%
reporting.plot_examples(result.discarded, by="label", n=6, score="p_text")
