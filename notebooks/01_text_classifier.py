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
# # A classifier for text in images
#
# Many WEBEmo images carry writing: captions, quotes, signs, watermarks. A word such as
# "grief" printed on a picture tells a model the emotion without the picture having to show
# it, and a model trained on such images learns to read rather than to see. The paper
# therefore removes images with text before training, using a classifier of its own:
# EfficientNetV2B0, fine-tuned to tell COCO-Text images that contain legible text from photos
# of the RGP collection that contain none. The paper reports 99.31% accuracy for it.
#
# This notebook trains that classifier with the same machinery as the emotion models
# (notebook 03) and saves it for notebook 02. Beside it, on the very same held-out images, it
# evaluates a second text scorer that needs no training: the PP-OCRv6 text detector and
# recogniser that the `rapidocr` package ships (nothing is downloaded). Under the `demo`
# profile the classifier learns from synthetic scenes with rendered words, signs, plates,
# captions and watermarks; its numbers are demo numbers, not the paper's.

# %% tags=["parameters"]
profile = "demo"         # demo or paper
epochs = None            # None: the profile's value
batch_size = None
image_size = None
learning_rate = None
seeds = 1                # training seeds: 1 (the profile's seed, whose model filters); N; a list
pretrained = True        # start from ImageNet weights (demo: only if Keras can download them)
backbone = "efficientnetv2b0"  # the paper's text classifier
weights = None           # a weights file instead of Keras' ImageNet download, or None
max_per_class = None     # cap on images per class (None: all)
ocr_threshold = None     # the OCR detector's threshold on its score (None: 0.5)
data_root = None
results_root = None
notebook_name = None

# %%
from sadutils import backbones, experiments, reporting, settings
from sadutils.workspace import Workspace, shown_path

settings.check_parameters(globals())  # a bad value stops here, saying what is expected
network = backbones.get(backbone)  # an unknown name stops here, listing the valid ones
ws = Workspace.create(profile, data_root, results_root)
recipe = settings.TrainSettings.resolve(
    ws.profile, epochs=epochs, batch_size=batch_size, image_size=image_size,
    learning_rate=learning_rate)
seed_list = settings.seed_list(ws.profile, seeds)

# %% [markdown]
# ## The two kinds of image
#
# Images with legible text come from COCO-Text (an image counts when at least one of its
# annotations is legible); images without text from the RGP collection.

# %%
manifest, rejected = experiments.text_classifier_manifest(ws, max_per_class=max_per_class)
manifest.groupby(["split", "label"]).size().unstack()

# %%
reporting.plot_examples(manifest, by="label", n=6)

# %% [markdown]
# ## Training

# %%
runs = {seed: experiments.train_text_classifier(ws, recipe.with_seed(seed), backbone=network.name,
                                                pretrained=pretrained, weights=weights,
                                                max_per_class=max_per_class,
                                                compare_ocr=seed == seed_list[0],
                                                ocr_threshold=ocr_threshold,
                                                notebook=notebook_name)
        for seed in seed_list}
run = runs[seed_list[0]]  # the profile's seed: the model notebook 02 filters with
print(run.record.weights["note"])
reporting.plot_history(run.history)

# %% [markdown]
# ## How well it tells text from no text
#
# Accuracy on the held-out test part beside the paper's 99.31%, and the F1 score of each class.

# %%
print(reporting.profile_note(ws.name, [r.record for r in runs.values()]))
reporting.text_classifier_summary(run.record)

# %% [markdown]
# ## Both methods on the same held-out images
#
# The classifier trained above and the OCR detector, which was not trained on these data at
# all, scored on the same test images. The OCR detector's score is the recogniser's confidence
# in the best line it reads that has at least two different letters or digits; an image
# scoring at least the threshold counts as *text*.

# %%
reporting.text_methods_table(run.record)

# %%
reporting.plot_confusion_matrices(run.record)

# %% [markdown]
# ## Their mistakes
#
# Test images the classifier got wrong, with the probability it gave to "text", then those the
# OCR detector got wrong, with its score.

# %%
reporting.plot_examples(run.test[run.test["label"] != run.test["pred"]], by="label", n=6,
                          score="p_text")

# %%
reporting.plot_examples(run.test[run.test["label"] != run.test["ocr_pred"]], by="label", n=6,
                        score="ocr_score")

# %%
print(shown_path(run.record_path))
