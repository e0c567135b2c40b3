# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
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
epochs = None
batch_size = None
image_size = None
learning_rate = None
seed = None
data_root = None
results_root = None
notebook_name = None

# %%
from sadutils import config, experiments, reporting

config.check_choice("backbone", backbone, config.BACKBONES)
settings = config.get_profile(profile)
common = dict(epochs=epochs, batch_size=batch_size, image_size=image_size,
              learning_rate=learning_rate, seed=seed, data_root=data_root,
              results_root=results_root)

# %% [markdown]
# ## The ImageNet-initialised model
#
# Notebook 03's newest run of this backbone is reused when it was trained with the same
# settings; otherwise it is trained now.

# %%
pretrained_run = experiments.pretrained_reference(backbone, profile, **common)
pretrained_run["run_id"], pretrained_run["weights"]["note"]

# %% [markdown]
# ## The same network from random weights

# %%
scratch = experiments.train_backbone(backbone, False, profile, notebook=notebook_name, **common)
reporting.plot_history(scratch.history)

# %% [markdown]
# ## The comparison

# %%
experiments.metrics_frame({f"{backbone} (ImageNet requested)": pretrained_run,
                           f"{backbone} (from scratch)": scratch})

# %%
print(reporting.profile_note(settings.name))
reporting.comparison_table("table1", settings.name, results_root)

# %%
reporting.plot_confusion(scratch.record)
