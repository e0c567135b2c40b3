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
# # Beyond the paper: what the models see
#
# The paper reports one accuracy per model and dataset. This notebook asks what a reader who
# wants to use or improve these models asks next, from results the pipeline already has:
#
# 1. **Which sadness is missed, and what is taken for sadness?** The share of images each
#    Table 1 model calls *sadness*, for each of WEBEmo's six sadness sub-emotions (its recall
#    there) and each of its other fine emotions (its false-sadness rate), with 95% Wilson
#    intervals; the same for the six emotions of UnbiasedEmo and of Emotion-6, and for
#    UnbiasedEmo's objects and scenes, a set built to expose models that judge the object
#    instead of the emotion.
# 2. **Where do the models look?** Grad-CAM heat maps of every backbone on the same WEBEmo test
#    images, right and wrong, of both classes.
# 3. **Where does the cross-dataset drop come from?** Tables 2 and 3 test on sets with other
#    shares of sadness images than WEBEmo's. Redrawing each set at other class ratios (notebook
#    04's `sadness_fraction`) separates what the class ratio costs from what the images cost.
# 4. **A failure gallery**: each model's most confident mistakes, with their true fine labels.
#
# **What it reads and costs.** Nothing is trained or predicted again: parts 1, 3 and 4 read the
# predictions saved by notebooks 03, 05 and 04 (found through their results records); part 2
# loads each Table 1 model once and runs a few images through it with a gradient tape. On the
# demo profile it took about 45 CPU-seconds (measured 2026-12-01 on a 2-core CPU), half of it
# loading the five models for part 2; on the paper profile the sets are larger but the work
# is still reading predictions and a few gradient passes.
#
# **Demo numbers describe synthetic images.** Under the `demo` profile the models were trained
# for three short epochs from random weights on small synthetic pictures, and the groups hold a
# handful of images each: the figures show what the analysis does, not what the paper's models
# see. Every table below comes with its intervals for that reason.

# %% tags=["parameters"]
profile = "demo"             # demo (synthetic data) or paper (the real datasets)
include_no_pretrain = True   # also analyse the from-scratch Xception of notebook 05
gradcam_images = 1           # Grad-CAM: images per class and per right/wrong (x 4 in all)
gallery_size = 6             # failure gallery: mistakes shown per model
sweep_points = 9             # class ratios tried per test set (evenly from 0.1 to 0.9)
seed = None                  # seed of the class-ratio draws and image picks; None: the profile's
data_root = None             # None: data/<profile>
results_root = None          # None: results/ (reads results/<profile>/records/)
notebook_name = None         # set by `sadutils reproduce`: where the executed copy is kept

# %%
import numpy as np
import pandas as pd
from IPython.display import Markdown, display

from sadutils import analysis, reporting, settings
from sadutils.reporting import analysis as report
from sadutils.reporting import analysis_figures as figures
from sadutils.workspace import Workspace, shown_path

settings.check_parameters(globals())  # a bad value stops here, saying what is expected
ws = Workspace.create(profile, data_root, results_root)
seed = ws.profile.seed if seed is None else seed
chapter = report.ANALYSIS.new(ws, notebook_name)


def show(item):
    """Display a chapter item: Markdown text, or a table or figure as it is."""
    display(Markdown(item) if isinstance(item, str) else item)


show(reporting.profile_note(ws.name))

# %% [markdown]
# ## The models and the predictions read
#
# The newest training record of each row of Table 1 and, for Tables 2 and 3, the newest
# cross-dataset record of each row. Each record names the predictions file used here.

# %%
chapter.start("sources")
table1 = analysis.table1_predictions(ws, include_ablation=include_no_pretrain)
cross = {name: analysis.cross_predictions(ws, name, include_ablation=include_no_pretrain)
         for name in ("unbiasedemo", "emotion6")}
sources = pd.DataFrame(
    [{"set": "webemo (test split)", "model": p.model, "images": len(p.frame),
      "record": p.record.run_id} for p in table1]
    + [{"set": name, "model": p.model, "images": len(p.frame), "record": p.record.run_id}
       for name, found in cross.items() for p in found])
show(chapter.table(sources, "sources"))
note = report.identical_note(analysis.by_model(table1))
if note:
    show(chapter.markdown(note))

# %% [markdown]
# ## 1. Which sadness is missed, and what is taken for sadness
#
# For each group of test images, the share the model calls *sadness*: for a sadness group that
# is its **recall** there, for any other group its **false-sadness rate**. Brackets give 95%
# Wilson intervals, which stay honest for small groups; `n` is the number of images in the
# group (every model was tested on the same ones).
#
# ### WEBEmo: the six sadness sub-emotions and the other fine emotions

# %%
chapter.start("groups")
show(chapter.markdown("### WEBEmo test split, by fine emotion"))
rates = {"webemo": analysis.rates_by_model(analysis.by_model(table1), "fine_label")}
show(chapter.table(report.rates_wide(rates["webemo"], "fine_label"), "webemo_fine"))
show(chapter.figure(figures.plot_call_rates(rates["webemo"], "fine_label",
                                           f"WEBEmo test split ({ws.name} profile)"),
                    "webemo_fine"))
show(chapter.markdown(report.rates_reading(rates["webemo"], "fine_label",
                                           "WEBEmo fine emotion")))

# %% [markdown]
# ### UnbiasedEmo and Emotion-6: which emotions are taken for sadness?

# %%
for name, found in cross.items():
    if not found:
        show(chapter.markdown(f"No {name} predictions: notebook 04 has not run."))
        continue
    rates[name] = analysis.rates_by_model(analysis.by_model(found), "fine_label")
    show(chapter.markdown(f"### {name}, by emotion"))
    show(chapter.table(report.rates_wide(rates[name], "fine_label"), f"{name}_fine"))
    show(chapter.figure(figures.plot_call_rates(rates[name], "fine_label",
                                               f"{name} ({ws.name} profile)"), f"{name}_fine"))
    show(chapter.markdown(report.rates_reading(rates[name], "fine_label", "emotion")))

# %% [markdown]
# ### UnbiasedEmo by object and scene
#
# UnbiasedEmo shows the same objects and scenes under different emotions. Within each object,
# a model that judges the emotion calls the object's sadness images sad more often than its
# other images; one that judges the object calls them alike. The separation (recall minus
# false-sadness rate within the object) is 1 for a perfect model and 0 for one that looks at
# the object alone.

# %%
if cross["unbiasedemo"]:
    objects = analysis.rates_by_model(analysis.by_model(cross["unbiasedemo"]), "object")
    separation = analysis.object_separation(objects)
    show(chapter.markdown("### UnbiasedEmo, by object or scene"))
    show(chapter.figure(figures.plot_call_rates(objects, "object",
                                               f"UnbiasedEmo by object ({ws.name} profile)"),
                        "unbiasedemo_objects"))
    show(chapter.table(report.separation_wide(separation), "unbiasedemo_separation"))
    show(chapter.markdown(report.separation_reading(separation)))

# %% [markdown]
# ## 2. Where the models look: Grad-CAM
#
# The same WEBEmo test images for every backbone: for each class, the images most models got
# right and those most got wrong. Each map explains the class the model predicted (its title:
# that class, the probability the model gave it, and whether it was right); red regions raise
# that class's score most, blue ones not at all. Maps come from the last convolutional block
# of each backbone, whose grid is coarse at small input sizes (3 x 3 cells at the demo's 72
# pixels), so they say *which part* of the image counts, not which object.

# %%
chapter.start("gradcam")
picks = analysis.shared_picks(analysis.by_model(table1), per_cell=gradcam_images, seed=seed)
cams = analysis.gradcam_for_records(ws, [p.record for p in table1], picks["path"])
show(chapter.markdown("### Grad-CAM on WEBEmo test images"))
show(chapter.figure(figures.plot_gradcam_grid(cams, picks), "gradcam"))
heat = analysis.heat_summary(cams)
show(chapter.table(heat.assign(layer=[cams[m][1].layer for m in heat["model"]]), "gradcam_heat"))
show(chapter.markdown(report.heat_reading(heat)))

# %% [markdown]
# The probabilities in the titles come from the same forward pass as the maps; they match the
# saved predictions of notebook 03 (checked below), so the maps explain the models of Table 1.

# %%
saved = {p.model: p.frame.set_index("path").loc[picks["path"], "p_sadness"].to_numpy()
         for p in table1}
gap = max(float(np.abs(cams[m][1].probabilities[:, 0] - saved[m]).max()) for m in cams)
print(f"largest difference from the saved P(sadness): {gap:.2e}")
assert gap < 1e-3, "the Grad-CAM pass does not reproduce the saved predictions"

# %% [markdown]
# ## 3. Where the cross-dataset drop comes from
#
# A model's **recall** (sadness images called sadness) and **specificity** (other images called
# others) do not depend on how many images of each class a test set holds; accuracy and F1 do.
# Each set is redrawn at other shares of sadness exactly as notebook 04's `sadness_fraction`
# would draw it (same seed, same draw; markers), and the lines show what each model's rates on
# the whole set imply at every share. The table then splits each model's change from Table 1
# into the part due to the other images (at WEBEmo's class ratio) and the part due to the other
# class ratio.

# %%
chapter.start("prior")
fractions = np.round(np.linspace(0.1, 0.9, sweep_points), 3) if sweep_points > 1 else [0.5]
webemo = analysis.by_model(table1)
source_prior = float(np.mean([analysis.class_rates(f).prior for f in webemo.values()]))
targets = {name: analysis.by_model(found) for name, found in cross.items() if found}
for name, frames in targets.items():
    sweeps = {m: analysis.ratio_sweep(f, fractions, seed) for m, f in frames.items()}
    curves = {m: analysis.expected_curve(f) for m, f in frames.items()}
    show(chapter.markdown(f"### {name}: metrics against the class ratio"))
    show(chapter.figure(figures.plot_prior_sweep(curves, sweeps, source_prior,
                                                f"{name} ({ws.name} profile)"),
                        f"{name}_prior_sweep"))
    show(chapter.table(report.sweep_table(sweeps, "accuracy"), f"{name}_sweep_accuracy"))

drops = analysis.drop_table(webemo, targets)
if len(drops):
    show(chapter.markdown("### The drop from Table 1, split into images and class ratio"))
    for metric in ("accuracy", "f1_weighted"):
        show(chapter.table(report.drop_summary(drops, metric), f"drop_{metric}"))
    show(chapter.markdown(report.drop_reading(drops, "accuracy") + " "
                          + report.drop_reading(drops, "f1_weighted")))

# %% [markdown]
# ## 4. Failure gallery
#
# Each model's most confident mistakes: the wrong predictions it gave the highest probability,
# with the true class, the true fine label (and, on UnbiasedEmo, the object) and what the model
# said.

# %%
chapter.start("failures")
sets = {"WEBEmo test split": table1, **{name: found for name, found in cross.items() if found}}
for i, (name, found) in enumerate(sets.items()):
    mistakes = {p.model: analysis.confident_mistakes(p.frame, gallery_size) for p in found}
    show(chapter.markdown(f"### Most confident mistakes: {name}"))
    show(chapter.figure(figures.plot_failures(mistakes, title=f"{name} ({ws.name} profile)"),
                        f"failures_{i}"))

# %% [markdown]
# ## Saved for the book
#
# Everything shown above is saved under `results/<profile>/analysis/`, from where the book's
# Analysis chapter shows it.

# %%
print(shown_path(chapter.save()))  # relative to the checkout: no path of this machine
