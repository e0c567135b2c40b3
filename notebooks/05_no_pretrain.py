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
# # Does ImageNet pretraining matter? (last row of Table 1)
#
# The paper's ablation trains Xception twice on the same data with the same budget: once
# starting from ImageNet weights and once from random weights. The gap between the two rows is
# what the knowledge carried over from ImageNet is worth for recognising sadness.
#
# This notebook trains the from-scratch model and sets it beside the ImageNet-initialised one
# of notebook 03 (trained here too if it is missing), on the same split and with the same
# settings. Under the `demo` profile, Keras usually cannot download ImageNet weights (no
# network), and then *both* models start from random weights — the tables say so in their
# weights column — so the demo shows the mechanics of the comparison, not its outcome.

# %% tags=["parameters"]
backbone = "xception"
profile = "demo"
weights = None           # a weights file for the ImageNet-initialised model (trained here if
#                          notebook 03 has not), instead of Keras' download; or None
epochs = None
batch_size = None
image_size = None
learning_rate = None
seeds = None             # training seeds: None for the profile's (demo 3, paper 1); N; or a list
data_root = None
results_root = None
notebook_name = None

# %%
from sadutils import backbones, experiments, reporting, settings
from sadutils.workspace import Workspace

settings.check_parameters(globals())  # a bad value stops here, saying what is expected
network = backbones.get(backbone)  # an unknown name stops here, listing the valid ones
ws = Workspace.create(profile, data_root, results_root)
recipe = settings.TrainSettings.resolve(
    ws.profile, epochs=epochs, batch_size=batch_size, image_size=image_size,
    learning_rate=learning_rate)
network.check_size(recipe.image_size)
seed_list = settings.seed_list(ws.profile, seeds)

# %% [markdown]
# ## The ImageNet-initialised model
#
# For each seed, notebook 03's newest run of this backbone is reused when it was trained with
# the same settings; otherwise it is trained now.

# %%
pretrained_runs = {seed: experiments.pretrained_reference(ws, network.name,
                                                         recipe.with_seed(seed), weights=weights)
                   for seed in seed_list}
[(seed, r.run_id, r.weights["note"]) for seed, r in pretrained_runs.items()]

# %% [markdown]
# ## The same network from random weights

# %%
scratch_runs = {seed: experiments.train_backbone(ws, network.name, recipe.with_seed(seed),
                                                 pretrained=False, notebook=notebook_name)
                for seed in seed_list}
scratch = scratch_runs[seed_list[0]]
reporting.plot_history(scratch.history)

# %% [markdown]
# ## The comparison

# %%
reporting.metrics_frame(
    {**{f"{network.name} (ImageNet requested), seed {s}": r for s, r in pretrained_runs.items()},
     **{f"{network.name} (from scratch), seed {s}": r for s, r in scratch_runs.items()}})

# %%
print(reporting.table_note(ws, "table1"))
reporting.comparison_html(ws, "table1")

# %%
reporting.plot_confusion(scratch.record)
