"""sadutils.runner.steps: the notebook graph read from notebooks/pipeline.yml, and ``-p`` values."""
from __future__ import annotations

import re

import pytest

from sadutils.backbones import PAPER_BACKBONES
from sadutils.runner import steps
from sadutils.runner.steps import NotebookRun
from sadutils.workspace import notebooks_dir

DEMO_SEEDS = (1234, 1235, 1236)
PAPER_TRAIN_RUNS = [f"03_train-{b}-seed{s}" for b in PAPER_BACKBONES for s in DEMO_SEEDS]
NO_PRETRAIN_RUNS = [f"05_no_pretrain-seed{s}" for s in DEMO_SEEDS]
#: The demo's text ablation: Xception unfiltered and as the demo's filter (ocr) leaves it.
ABLATION_RUNS = [f"03_train-xception-filter-{f}-seed{s}" for f in ("none", "ocr")
                 for s in DEMO_SEEDS]


def test_the_real_graph():
    """The demo default: one run per backbone and seed (3 seeds per Table 1 row)."""
    runs = steps.load_runs()
    assert runs == steps.load_runs(notebooks_dir() / "pipeline.yml", profile="demo")
    assert [r.name for r in runs] == ["01_text_classifier", "02_filtering", *PAPER_TRAIN_RUNS,
                                      *ABLATION_RUNS, *NO_PRETRAIN_RUNS, "04_cross_dataset",
                                      "06_analysis", "07_text_ablation"]
    by_name = {r.name: r for r in runs}
    assert by_name["01_text_classifier"].depends == ()
    assert by_name["01_text_classifier"].datasets == ("cocotext", "rgp")
    assert by_name["01_text_classifier"].parameters == {}  # one text classifier, not per seed
    assert by_name["02_filtering"].depends == ("01_text_classifier",)
    for backbone in PAPER_BACKBONES:
        for seed in DEMO_SEEDS:
            run = by_name[f"03_train-{backbone}-seed{seed}"]
            assert (run.notebook, run.parameters) == \
                ("03_train", {"backbone": backbone, "seeds": [seed]})
            assert run.depends == ("02_filtering",) and run.datasets == ("webemo",)
            assert run.seed == seed and run.fanned == {"backbone": backbone, "seed": seed}
    # 05 of a seed waits for 03's runs of that seed only (it reuses 03's Xception of the seed)
    for seed in DEMO_SEEDS:
        run = by_name[f"05_no_pretrain-seed{seed}"]
        assert run.parameters == {"seeds": [seed]}
        assert run.depends == ("02_filtering",
                               *[f"03_train-{b}-seed{seed}" for b in PAPER_BACKBONES])
    assert by_name["04_cross_dataset"].depends == ("01_text_classifier", *PAPER_TRAIN_RUNS,
                                                   *NO_PRETRAIN_RUNS)
    assert by_name["04_cross_dataset"].datasets == ("unbiasedemo", "emotion6")
    # the analysis runs last, again whenever a model or a cross-dataset test ran again
    assert by_name["06_analysis"].depends == (*PAPER_TRAIN_RUNS, *NO_PRETRAIN_RUNS,
                                              "04_cross_dataset")
    assert by_name["06_analysis"].datasets == ("webemo", "unbiasedemo", "emotion6")
    # the text ablation: notebook 03 again, each run after 03's run of its backbone and seed
    # (the one with the filter 02 applied is that very model, reused); 07 gathers them all
    for name in ABLATION_RUNS:
        run = by_name[name]
        seed, train_filter = run.seed, run.fanned["train_filter"]
        assert (run.notebook, run.parameters) == (
            "03_train", {"backbone": "xception", "train_filter": train_filter, "seeds": [seed]})
        assert run.depends == (f"03_train-xception-seed{seed}",) and run.gpus == 1
    assert by_name["07_text_ablation"].depends == tuple(ABLATION_RUNS)
    assert by_name["07_text_ablation"].gpus == 0
    # training asks for a GPU on a cluster; the rest for CPUs only
    assert {r.notebook for r in runs if r.gpus == 1} == \
        {"01_text_classifier", "03_train", "05_no_pretrain"}
    assert all(r.gpus == 0 for r in runs if r.notebook not in
               ("01_text_classifier", "03_train", "05_no_pretrain"))
    # every notebook of the graph exists
    assert all((notebooks_dir() / f"{r.notebook}.ipynb").is_file() for r in runs)


@pytest.mark.parametrize("profile, seeds, per_row", [("paper", None, 1), ("paper", 5, 5),
                                                     ("demo", 2, 2), ("demo", [7, 3], 2)])
def test_seeds_per_table1_row(profile, seeds, per_row):
    runs = steps.load_runs(seeds=seeds, profile=profile)
    for backbone in PAPER_BACKBONES:
        assert len([r for r in runs if r.name.startswith(f"03_train-{backbone}-seed")]) == per_row
    assert len([r for r in runs if r.notebook == "05_no_pretrain"]) == per_row
    # the text ablation: demo one backbone and two filters, paper four of each
    ablation = len([r for r in runs if "-filter-" in r.name])
    assert ablation == (2 if profile == "demo" else 16) * per_row
    assert len(runs) == 5 + 5 * per_row + ablation
    if seeds == [7, 3]:
        assert [r.name for r in runs if r.notebook == "05_no_pretrain"] == \
            ["05_no_pretrain-seed7", "05_no_pretrain-seed3"]
    with pytest.raises(ValueError, match="parameter seeds must be"):
        steps.load_runs(seeds=0, profile=profile)


def test_other_backbones():
    runs = {r.name: r for r in steps.load_runs(backbone_names=["resnet50"], seeds=1)}
    assert [n for n in runs if n.startswith("03_train")] == [
        "03_train-resnet50-seed1234", "03_train-resnet50-filter-none-seed1234",
        "03_train-resnet50-filter-ocr-seed1234"]  # --backbones chooses the ablation's too
    assert runs["03_train-resnet50-seed1234"].parameters == {"backbone": "resnet50",
                                                             "seeds": [1234]}
    assert "03_train-resnet50-seed1234" in runs["04_cross_dataset"].depends
    assert "03_train-xception-seed1234" not in runs["04_cross_dataset"].depends
    # names are normalised to the registry's
    named = [r.name for r in steps.load_runs(backbone_names=["ResNet_50", "Xception"], seeds=1)]
    assert named[2:4] == ["03_train-resnet50-seed1234", "03_train-xception-seed1234"]
    with pytest.raises(ValueError, match="unknown backbone 'notanet'.*valid choices: xception"):
        steps.load_runs(backbone_names=["notanet"])


def _write(tmp_path, text: str):
    path = tmp_path / "pipeline.yml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("text, message", [
    ("steps:\n  - notebook: a\n    needs: [b]\n", "step 1: unknown key(s) needs"),
    ("steps:\n  - notebook: a\n    reads: [imagenet]\n", "step 1: unknown dataset(s) imagenet"),
    ("steps:\n  - notebook: a\n    after: [b]\n  - notebook: b\n",
     "step 1: a runs after b, which is not an earlier step"),
    ("steps:\n  - notebook: a\n    per: dataset\n",
     "step 1: 'per' must be one or more of backbone, train_filter, seed"),
    ("steps:\n  - notebook: a\n    per: [seed, seed]\n", "step 1: 'per' must be one or more"),
    ("steps:\n  - notebook: a\n    gpus: yes\n", "step 1: 'gpus' must be a whole number"),
    ("steps:\n  - notebook: a\n  - notebook: b\n    after: a\n",
     "step 2: 'after' must be a list of names"),
    ("steps:\n  - reads: [webemo]\n", "step 1: each step needs 'notebook: <name>'"),
    ("steps:\n  - notebook: a\n  - notebook: a\n", "step 2: a step named 'a' comes earlier"),
    ("steps:\n  - notebook: a\n  - notebook: a\n    step: b\n", "two runs are named 'a'"),
    ("steps:\n  - notebook: a\n    step: [b]\n", "step 1: 'step' must be a name"),
    ("steps:\n  - notebook: a\n    values: {cluster: {}}\n", "step 1: 'values' must map a "
     "profile"),
    ("steps:\n  - notebook: a\n    values: {demo: {seed: [1]}}\n",
     "step 1: 'values: demo:' must give non-empty lists for backbone or train_filter"),
    ("steps:\n  - notebook: a\n    values: {demo: {train_filter: [raw]}}\n",
     "step 1: parameter train_filter must be one of none, cnn, ocr, both"),
    ("steps:\n  - notebook: a\n    values: {demo: {backbone: [notanet]}}\n",
     "step 1: unknown backbone 'notanet'"),
    ("notebooks: [a, b]\n", "expected a 'steps:' list"),
    ("steps: [a\n", "cannot read the notebook graph"),
])
def test_malformed_graphs_name_the_file(tmp_path, text, message):
    path = _write(tmp_path, text)
    with pytest.raises(ValueError, match=re.escape(message)) as info:
        steps.load_runs(path)
    assert str(info.value).startswith(f"{path}")


def test_missing_graph_file(tmp_path):
    with pytest.raises(ValueError, match=re.escape(str(tmp_path / "nope.yml"))):
        steps.load_runs(tmp_path / "nope.yml")


def test_a_small_graph(tmp_path):
    path = _write(tmp_path, "steps:\n  - notebook: prep\n    reads: [rgp]\n"
                            "  - notebook: fit\n    per: backbone\n    after: [prep]\n"
                            "  - notebook: sum\n    after: [fit, prep]\n")
    runs = steps.load_runs(path, backbone_names=["xception", "efficientnetv2b0"])
    assert runs == [
        NotebookRun("prep", "prep", {}, (), ("rgp",)),
        NotebookRun("fit-xception", "fit", {"backbone": "xception"}, ("prep",), ()),
        NotebookRun("fit-efficientnetv2b0", "fit", {"backbone": "efficientnetv2b0"},
                    ("prep",), ()),
        NotebookRun("sum", "sum", {}, ("fit-xception", "fit-efficientnetv2b0", "prep"), ()),
    ]


def test_steps_fanned_over_a_shared_key_are_linked_value_by_value(tmp_path):
    path = _write(tmp_path, "steps:\n  - notebook: fit\n    per: [backbone, seed]\n"
                            "  - notebook: ablate\n    per: seed\n    after: [fit]\n"
                            "    gpus: 1\n"
                            "  - notebook: sum\n    after: [ablate, fit]\n")
    runs = steps.load_runs(path, backbone_names=["xception", "efficientnetv2b0"], seeds=[5, 6])
    by_name = {r.name: r for r in runs}
    assert list(by_name) == ["fit-xception-seed5", "fit-xception-seed6",
                             "fit-efficientnetv2b0-seed5", "fit-efficientnetv2b0-seed6",
                             "ablate-seed5", "ablate-seed6", "sum"]
    assert by_name["ablate-seed6"].depends == ("fit-xception-seed6", "fit-efficientnetv2b0-seed6")
    assert by_name["ablate-seed6"].gpus == 1 and by_name["fit-xception-seed5"].gpus == 0
    assert by_name["sum"].depends == ("ablate-seed5", "ablate-seed6", *list(by_name)[:4])
    # a group of runs is selected by the start of their names
    assert [r.name for r in steps.match_runs("fit-xception", runs, "--only")] == \
        ["fit-xception-seed5", "fit-xception-seed6"]
    assert [r.name for r in steps.match_runs("fit", runs, "--only")] == list(by_name)[:4]


def test_a_notebook_twice_fanned_over_train_filters(tmp_path):
    """One notebook as two steps (Table 1 and the text ablation), the second fanned out over
    text filters with its own values per profile; the request's choices win over them."""
    path = _write(tmp_path, "steps:\n  - notebook: fit\n    per: [backbone, seed]\n"
                            "  - notebook: fit\n    step: fit_text\n"
                            "    per: [backbone, train_filter, seed]\n    after: [fit]\n"
                            "    values:\n      demo: {backbone: [xception], "
                            "train_filter: [none, ocr]}\n"
                            "  - notebook: sum\n    after: [fit_text]\n")
    runs = {r.name: r for r in steps.load_runs(path, seeds=1)}
    assert list(runs) == [*(f"fit-{b}-seed1234" for b in PAPER_BACKBONES),
                          "fit-xception-filter-none-seed1234", "fit-xception-filter-ocr-seed1234",
                          "sum"]
    run = runs["fit-xception-filter-none-seed1234"]
    assert (run.notebook, run.parameters, run.depends) == (
        "fit", {"backbone": "xception", "train_filter": "none", "seeds": [1234]},
        ("fit-xception-seed1234",))
    assert run.fanned == {"backbone": "xception", "train_filter": "none", "seed": 1234}
    assert runs["sum"].depends == ("fit-xception-filter-none-seed1234",
                                   "fit-xception-filter-ocr-seed1234")
    # the paper profile has no values of its own: every backbone and filter
    paper = [r.name for r in steps.load_runs(path, seeds=1, profile="paper")
             if "-filter-" in r.name]
    assert len(paper) == len(PAPER_BACKBONES) * 4
    assert paper[:4] == [f"fit-xception-filter-{f}-seed1234" for f in ("none", "cnn", "ocr",
                                                                       "both")]
    # --backbones and --train-filters choose, for every step
    chosen = [r.name for r in steps.load_runs(path, backbone_names=["efficientnetv2b0"],
                                              seeds=1, train_filters=["both", "none", "both"])]
    assert chosen == ["fit-efficientnetv2b0-seed1234",
                      "fit-efficientnetv2b0-filter-both-seed1234",
                      "fit-efficientnetv2b0-filter-none-seed1234", "sum"]
    with pytest.raises(ValueError, match="parameter train_filter must be one of"):
        steps.load_runs(path, train_filters=["raw"])


def test_check_graph_and_match_runs():
    runs = [NotebookRun("a", "a"), NotebookRun("b-x", "b", {"backbone": "x"}, ("a",)),
            NotebookRun("b-y", "b", {"backbone": "y"}, ("a",))]
    steps.check_graph(runs)
    with pytest.raises(ValueError, match="'a' depends on b-x, which must come before it"):
        steps.check_graph([NotebookRun("a", "a", {}, ("b-x",)), runs[1]])
    with pytest.raises(ValueError, match="two runs are named 'a'"):
        steps.check_graph([runs[0], runs[0]])
    assert [r.name for r in steps.match_runs("b", runs, "--only")] == ["b-x", "b-y"]
    assert [r.name for r in steps.match_runs("b-y.ipynb", runs, "--only")] == ["b-y"]
    with pytest.raises(ValueError,
                       match=r"unknown notebook 'c' in -p; valid names: a, b-x, b-y, b"):
        steps.match_runs("c", runs, "-p")


def test_parse_value():
    assert [steps.parse_value(v) for v in ("0.33", "true", "None", "'x'", "abc", "[1, 2]",
                                           "-2", "1/4", "{'emotion6': 1/2}", "os.sep", "1/0",
                                           "FALSE", "null", " 3 ")] \
        == [0.33, True, None, "x", "abc", [1, 2], -2, 0.25, {"emotion6": 0.5}, "os.sep", "1/0",
            False, None, 3]


def test_parse_override():
    assert steps.parse_override("04_cross_dataset:sadness_fraction=1/3") == \
        ("04_cross_dataset", "sadness_fraction", pytest.approx(1 / 3))
    assert steps.parse_override(" 03_train : epochs =abc") == ("03_train", "epochs", "abc")
    assert steps.parse_override("03_train:weights=a=b.h5") == ("03_train", "weights", "a=b.h5")
    for bad in ("b=1", "03_train:epochs", ":epochs=1", "03_train:2x=1", "03_train:=1"):
        with pytest.raises(ValueError, match="NOTEBOOK:NAME=VALUE"):
            steps.parse_override(bad)
