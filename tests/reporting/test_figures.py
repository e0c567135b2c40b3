"""sadutils.reporting.figures: metric bars, confusion matrices, training curves, image grids.

The records are FAKE (conftest's ``fake_record``: invented numbers), used only to check that
each figure is drawn from what it is given.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.container import BarContainer
from matplotlib.figure import Figure

from sadutils.paper import paper_rows
from sadutils.reporting import figures as fg

PNG = b"\x89PNG\r\n\x1a\n"


def _labels(ax) -> list[str]:
    return [t.get_text() for t in ax.get_xticklabels()]


def test_figure_png_and_notebook_display():
    fig, axes = fg.new_figure(2, 3, size=(3, 2))
    assert axes.shape == (2, 3) and isinstance(fig, Figure)
    assert fg.figure_png(fig).startswith(PNG)
    assert fig._repr_png_().startswith(PNG)  # how Jupyter shows it without pyplot


def test_metric_bars(demo_ws, fake_record, tmp_path):
    fake_record(demo_ws, "fake-fig", accuracy=0.7)
    fake_record(demo_ws, "fake-resnet", row="ResNet50", backbone="resnet50", ci=False)
    fig = fg.plot_metric_bars(demo_ws, 1)
    assert isinstance(fig, Figure) and len(fig.axes) == 4
    accuracy = fig.axes[0]
    rows = list(paper_rows("table1")) + ["ResNet50"]
    assert _labels(accuracy) == [r.replace(" no-pretrain", "\nno-pretrain") for r in rows]
    paper_bars, ours = [c for c in accuracy.containers if isinstance(c, BarContainer)]
    heights = [bar.get_height() for bar in ours]
    assert heights[0] == pytest.approx(70.0)                     # Xception, reproduced
    assert np.isnan(heights[1])                                  # EfficientNetV2B0: not run
    assert np.isnan(paper_bars[-1].get_height())                 # ResNet50: not in the paper
    assert paper_bars[0].get_height() == pytest.approx(72.53)
    assert sum(t.get_text() == "not run" for t in accuracy.texts) == 4
    assert "demo profile" in fig._suptitle.get_text()
    fig.savefig(tmp_path / "bars.png")
    assert (tmp_path / "bars.png").read_bytes().startswith(PNG)


def test_confusion(demo_ws, fake_record):
    rec = fake_record(demo_ws, "fake-cm", write=False)
    counts = fg.plot_confusion(rec)
    cells = [t.get_text() for t in counts.axes[0].texts]
    assert cells == ["60", "20", "30", "90"]
    normalised = fg.plot_confusion(rec, normalize=True)
    assert [t.get_text() for t in normalised.axes[0].texts] == ["0.75", "0.25", "0.25", "0.75"]
    assert _labels(normalised.axes[0]) == ["sadness", "others"]
    bare = fake_record(demo_ws, "fake-bare", write=False)
    bare.metrics.pop("confusion_matrix")
    with pytest.raises(ValueError, match="fake-bare has no confusion_matrix"):
        fg.plot_confusion(bare)


def test_history(tmp_path):
    hist = tmp_path / "history.csv"
    pd.DataFrame({"epoch": [0, 1], "accuracy": [0.5, 0.6], "loss": [0.7, 0.6],
                  "val_accuracy": [0.5, 0.55], "val_loss": [0.7, 0.65],
                  "learning_rate": [0.001, 0.001]}).to_csv(hist, index=False)
    fig = fg.plot_history(hist)
    assert [ax.get_title() for ax in fig.axes] == ["accuracy", "loss"]
    assert [line.get_label() for line in fig.axes[0].lines] == ["train", "validation"]
    assert list(fig.axes[0].lines[0].get_xdata()) == [1, 2]  # epochs counted from 1
    assert len(fg.plot_history(pd.read_csv(hist)).axes) == 2
    with pytest.raises(ValueError, match="no metric columns"):
        fg.plot_history(pd.DataFrame({"epoch": [0], "learning_rate": [0.1]}))


def test_examples(tmp_path, write_jpeg):
    rows = [{"path": str(write_jpeg(tmp_path / f"{i}.jpg", i)), "label": label, "p": 0.25}
            for i, label in enumerate(["sadness"] * 3 + ["others"] * 8)]
    rows.append({"path": str(tmp_path / "missing.jpg"), "label": "others", "p": 0.5})
    fig = fg.plot_examples(pd.DataFrame(rows), by="label", n=4, score="p")
    assert len(fig.axes) == 2 * 4
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[0] == "others p=0.25" or titles[0] == "others p=0.50"  # seeded draw of 4 of 9
    assert titles[4] == "sadness p=0.25" and titles[7] == ""          # 3 sadness: a free cell
    empty = fg.plot_examples(pd.DataFrame(columns=["path", "label"]))
    assert [t.get_text() for t in empty.axes[0].texts] == ["no images"]
    broken = fg.plot_examples(pd.DataFrame(rows[-1:]), by="label", n=1)
    assert [t.get_text() for t in broken.axes[0].texts] == ["unreadable"]
