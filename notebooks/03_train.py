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
# # Fine-tuning a backbone (Table 1)
#
# The paper's central experiment asks a plain question of each of four ImageNet classifiers:
# once its head is replaced by a two-way softmax and the whole network is trained on
# WEBEmo images labelled *sadness* or *others*, how often does it answer correctly on images it
# has not seen? This notebook runs that experiment for **one** backbone, named in the title
# (`sadutils reproduce` runs it once per backbone and training seed,
# `03_train-<backbone>-seed<seed>`, each its own job) to fill Table 1.
#
# Each model is trained once per seed (the seed sets the initial weights, the order of the
# batches and the dropout), always on the same split, so that the spread between seeds shows
# how much a number moves for reasons that have nothing to do with the backbone. The tables
# below gather every seed recorded so far.
#
# The recipe follows the paper: RGB images resized to 150×150 pixels, ImageNet weights as the
# starting point, a stratified 70/15/15 train/validation/test split of the text-filtered WEBEmo
# sample, the Adagrad optimiser at a learning rate of 0.001 and sparse categorical
# cross-entropy. We keep the epoch with the lowest validation loss and report accuracy, the F1
# score of each class and their support-weighted mean (the paper's "overall F1") on the test
# part, with 95% bootstrap confidence intervals.
#
# Under the `demo` profile the same code runs on small synthetic images at a lower resolution
# for a few epochs, so that it finishes on a laptop; its numbers only show that the pipeline
# works and are **not** the paper's.
#
# With `train_filter` set, a run belongs to the text ablation (notebook `07_text_ablation`,
# beyond the paper): the same backbone trained on the WEBEmo sample unfiltered (`none`) or as
# one text method filters it (`cnn`, `ocr`, `both`). Its record goes to that chapter, not to
# Table 1; with the filter notebook 02 applied it is the Table 1 model itself, reused.

# %% tags=["parameters"]
backbone = "xception"    # the paper's: xception, efficientnetv2b0, efficientnetv2b2,
#                          efficientnetv2s; or any keras.applications classifier (resnet50...)
pretrained = True        # False trains from random weights (the ablation, notebook 05)
profile = "demo"         # demo (synthetic data, CPU-sized) or paper (the real datasets)
epochs = None            # None: the profile's value (paper 30, demo 3)
batch_size = None        # None: the profile's value (32)
image_size = None        # None: the profile's value (paper 150, demo 72)
learning_rate = None     # None: the profile's value (0.001)
seeds = None             # training seeds: None for the profile's (demo 3, paper 1); N; or a list
train_filter = None      # None: the sample as notebook 02 filtered it (Table 1); none, cnn,
#                          ocr or both: a run of the text ablation (notebook 07)
weights = None           # a weights file instead of Keras' ImageNet download, or None
#                          (sadutils reproduce --weights BACKBONE=FILE gives one per backbone)
data_root = None         # None: data/<profile> (the demo data is generated there if absent)
results_root = None      # None: results/ (records, models and runs go to results/<profile>/)
notebook_name = None     # set by `sadutils reproduce`: the name of this run

# %%
from sadutils import backbones, experiments, reporting, settings
from sadutils.workspace import Workspace, shown_path

settings.check_parameters(globals())  # a bad value stops here, saying what is expected
network = backbones.get(backbone)  # an unknown name stops here, listing the valid ones
ws = Workspace.create(profile, data_root, results_root)
recipe = settings.TrainSettings.resolve(
    ws.profile, epochs=epochs, batch_size=batch_size, image_size=image_size,
    learning_rate=learning_rate)
network.check_size(recipe.image_size)
seed_list = settings.seed_list(ws.profile, seeds)
row = experiments.filter_row(network.row(pretrained), train_filter)
print(f"{network.name} (row {row!r}), profile {ws.name}, seeds {seed_list}: {recipe}")

# %% [markdown]
# ## The data: the filtered WEBEmo sample and its fixed split
#
# Notebook 02 samples WEBEmo and drops the images in which the text classifier of notebook 01
# finds writing. Every backbone trains on the same split of what is left, saved once to disk.
# (If notebook 02 has not been run, the next cell runs the steps of notebooks 01 and 02 first.)

# %%
split = experiments.training_split(ws, train_filter=train_filter)
split.groupby(["split", "label"]).size().unstack()

# %% [markdown]
# ## Training
#
# Checkpoints are written after every epoch: if the run is interrupted, running this notebook
# again continues where it stopped, on exactly the batches it would have seen.

# %%
runs = {seed: experiments.train_backbone(ws, network.name, recipe.with_seed(seed),
                                         pretrained=pretrained, weights=weights,
                                         train_filter=train_filter, notebook=notebook_name)
        for seed in seed_list}
run = runs[seed_list[0]]
print(run.record.weights["note"])

# %%
reporting.plot_history(run.history)

# %% [markdown]
# ## Results on the test split
#
# Accuracy, F1 of each class, their support-weighted mean ("overall F1" in the paper) and the
# macro mean, for each seed; the training curves and confusion matrix are those of the first.

# %%
reporting.metrics_frame({f"{network.name}, seed {seed}": r for seed, r in runs.items()})

# %%
reporting.plot_confusion(run.record)

# %% [markdown]
# ### Beside the paper
#
# The paper's row of Table 1 for this backbone and the newest reproduced record of every
# backbone of this profile.

# %%
print(reporting.table_note(ws, "table1"))
reporting.comparison_html(ws, "table1")

# %% [markdown]
# Every number above is traceable: the record below holds the metrics, all parameters, the
# weights the backbone started from, and the commit, data manifest and machine of this run.

# %%
print(shown_path(run.record_path))
{k: getattr(run.record, k) for k in ("run_id", "kind", "row", "weights", "params")}
