"""The arguments of every ``sadutils`` subcommand, declared without importing what runs them.

Declaring a command's arguments here costs nothing at start-up; the module that runs it (and
imports TensorFlow, papermill, ...) is loaded only when that command is chosen.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from ..config import DATASETS, PROFILES
from ..data.fetch import FETCH_CHOICES
from ..settings import TRAIN_FILTERS
from ..workspace import data_home

#: ``reproduce --executor`` (as :data:`sadutils.runner.execute.EXECUTORS`, which imports
#: TensorFlow's neighbours; a test keeps the two equal).
EXECUTORS = ("local", "snakemake", "slurm")


def demo_data(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", type=Path, default=None, metavar="DIR",
                   help=f"output folder (default {data_home() / 'demo'})")
    p.add_argument("--seed", type=int, default=1234, help="random seed (default 1234)")
    p.add_argument("--scale", type=float, default=1.0,
                   help="multiplies every image count (default 1.0, about 3,500 images)")
    p.add_argument("--force", action="store_true", help="rebuild even if the data is ready")


def index(p: argparse.ArgumentParser) -> None:
    p.add_argument("dataset", metavar="DATASET", choices=DATASETS,
                   help=f"one of {', '.join(DATASETS)}")
    p.add_argument("root", type=Path, metavar="ROOT", help="the dataset's folder")
    p.add_argument("--out", type=Path, metavar="CSV", help="save the manifest as this CSV")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    p.add_argument("--no-check", dest="check", action="store_false",
                   help="do not open every image to check it (much faster)")
    p.add_argument("--include-confusion", action="store_true", default=None,
                   help="webemo: count 'confusion' as sadness")
    p.add_argument("--label-from", choices=("folder", "argmax"), default=None,
                   help="emotion6 (Cornell): binary label from the folder (default) or the "
                        "argmax of ground_truth.txt")
    p.add_argument("--layout", choices=("auto", "cornell", "panda"), default=None,
                   help="emotion6: which dataset of that name (default auto)")


def download_webemo(p: argparse.ArgumentParser) -> None:
    p.add_argument("list_file", type=Path, metavar="LIST", help="train25.txt or test25.txt")
    p.add_argument("--out", type=Path, required=True, metavar="DIR",
                   help="folder for images/ and downloads.csv (the WEBEmo root)")
    p.add_argument("--sample-sadness", type=int, metavar="N",
                   help="draw N sadness URLs at random (give --sample-others too)")
    p.add_argument("--sample-others", type=int, metavar="N", help="draw N others URLs at random")
    p.add_argument("--seed", type=int, default=1234, help="seed of the sample (default 1234)")
    p.add_argument("--workers", type=int, default=16, help="parallel downloads (default 16)")
    p.add_argument("--timeout", type=float, default=10.0,
                   help="seconds per attempt, from connecting to the last byte (default 10)")
    p.add_argument("--retries", type=int, default=3, help="retries of transient failures (default 3)")
    p.add_argument("--include-confusion", action="store_true",
                   help="count 'confusion' as sadness when sampling")
    p.add_argument("--allow-files-under", type=Path, default=None, metavar="DIR",
                   help="read file:// URLs of the list from under DIR (refused without it)")


def fetch(p: argparse.ArgumentParser) -> None:
    p.add_argument("dataset", metavar="DATASET", choices=FETCH_CHOICES,
                   help=f"one of {', '.join(FETCH_CHOICES)}")
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="the dataset's folder")
    p.add_argument("--force", action="store_true", help="download again even if done")


def predict(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", type=Path, metavar="MODEL",
                   help="a .keras model saved by sadutils (it holds its class names)")
    p.add_argument("images", type=Path, nargs="+", metavar="IMAGE",
                   help="image files, or folders searched recursively for image files")
    p.add_argument("--json", action="store_true",
                   help='one JSON object per image and line: {"path", "probabilities", "label"}, '
                        'or {"path", "error"} for a file that cannot be read')
    p.add_argument("--batch-size", type=int, default=32, metavar="N",
                   help="images decoded and classified at a time (default 32)")


def detect_text(p: argparse.ArgumentParser) -> None:
    p.add_argument("images", type=Path, nargs="+", metavar="IMAGE_OR_FOLDER",
                   help="image files, or folders searched recursively for image files")
    p.add_argument("--method", choices=("ocr", "cnn"), default="ocr",
                   help="ocr: the PP-OCRv6 detector and recogniser shipped with rapidocr "
                        "(default; no training, nothing downloaded); cnn: a text classifier "
                        "trained by notebook 01")
    p.add_argument("--model", type=Path, default=None, metavar="PATH",
                   help="--method cnn: the text classifier (.keras; default "
                        "results/demo/models/text_classifier.keras, or under $SADUTILS_RESULTS)")
    p.add_argument("--threshold", type=float, default=None, metavar="T",
                   help="label an image text when its score is at least T (default 0.5)")
    p.add_argument("--json", action="store_true",
                   help='one JSON object per image and line: {"path", "score", "label", '
                        '"method", ...}, or {"path", "error"} for a file that cannot be read')
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="--method ocr: images scored at once (default: the CPU cores, at most 4)")
    p.add_argument("--batch-size", type=int, default=32, metavar="N",
                   help="--method cnn: images decoded and classified at a time (default 32)")


def reproduce(p: argparse.ArgumentParser) -> None:
    p.add_argument("--profile", choices=PROFILES, default="demo",
                   help="demo: synthetic data, small settings (default); paper: the real data")
    p.add_argument("--force", action="store_true",
                   help="run every notebook even if its inputs did not change")
    p.add_argument("--only", nargs="+", metavar="NAME",
                   help="run only these notebooks (e.g. 04_cross_dataset, 03_train or "
                        "03_train-xception); the ones they depend on are not run")
    p.add_argument("--backbones", nargs="+", metavar="NAME",
                   help="the backbones notebook 03 runs for (default the paper's four; any "
                        "keras.applications classifier, e.g. resnet50), in Table 1 and in the "
                        "text ablation (default there: demo xception, paper the four)")
    p.add_argument("--jobs", type=int, default=None, metavar="N",
                   help="notebook runs at once (default 1): independent runs (the backbones "
                        "and seeds of 03; 04 beside 05) side by side, one GPU each where there "
                        "are several; with --executor slurm, jobs queued at once (default the "
                        "cluster profile's)")
    _graph_options(p)
    p.add_argument("--executor", choices=EXECUTORS, default="local",
                   help="local: this machine, sadutils' own scheduler (default); slurm: one "
                        "SLURM job per run through Snakemake (see profiles/slurm/config.yaml); "
                        "snakemake: the same jobs through Snakemake on this machine")
    p.add_argument("--cluster-profile", type=Path, default=None, metavar="DIR",
                   help="--executor slurm: the Snakemake workflow profile (default "
                        "profiles/slurm: account, partition, time, memory, retries)")
    p.add_argument("-n", "--dry-run", action="store_true",
                   help="list the runs, why each would run and what its job would ask for; "
                        "run nothing (needs no data)")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="show everything: the notebooks' output and the kernels' TensorFlow "
                        "and Jupyter messages (otherwise kept in results/<profile>/logs/)")


def _graph_options(p: argparse.ArgumentParser) -> None:
    """What makes the runs and their parameters: shared by ``reproduce`` and ``run-notebook``."""
    p.add_argument("--seeds", type=int, metavar="N",
                   help="models per Table 1 row, one run per training seed (default: the "
                        "profile's, demo 3, paper 1)")
    p.add_argument("--train-filters", nargs="+", metavar="FILTER", choices=TRAIN_FILTERS,
                   help="the text ablation's training samples, one run per backbone, filter and "
                        "seed: none (unfiltered), cnn, ocr, both (default: demo none and ocr, "
                        "paper all four; see notebooks/pipeline.yml)")
    p.add_argument("-p", "--parameter", dest="overrides", action="append", default=[],
                   metavar="NOTEBOOK:NAME=VALUE",
                   help="set a parameter of a notebook (repeatable), e.g. "
                        "-p 04_cross_dataset:sadness_fraction=0.33 -p 03_train:epochs=2")
    p.add_argument("--weights", dest="weights", action="append", default=[],
                   metavar="BACKBONE=FILE",
                   help="start BACKBONE from this weights file (a Keras 'notop' .h5) in every "
                        "notebook that builds it, instead of Keras' ImageNet download "
                        "(repeatable: --weights xception=/w/x.h5 --weights "
                        "efficientnetv2s=/w/s.h5)")


def run_notebook(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", metavar="RUN",
                   help="a run of the notebook graph, as `reproduce` names it (e.g. "
                        "02_filtering, 03_train-xception-seed1234)")
    p.add_argument("--plan", type=Path, default=None, metavar="FILE",
                   help="the plan written by `reproduce --executor slurm|snakemake` (the jobs "
                        "it submits use it); without it the run is made from the options below")
    p.add_argument("--profile", choices=PROFILES, default="demo",
                   help="without --plan: demo (default) or paper")
    p.add_argument("--backbones", nargs="+", metavar="NAME",
                   help="without --plan: the backbones of notebook 03 (default the paper's four)")
    _graph_options(p)
    p.add_argument("-v", "--verbose", action="store_true",
                   help="the kernel's TensorFlow and Jupyter messages to the terminal too")


def tables(p: argparse.ArgumentParser) -> None:
    p.add_argument("--profile", choices=PROFILES, default="demo",
                   help="whose records to show (default demo)")
    p.add_argument("--format", dest="fmt", choices=("markdown", "csv"), default="markdown",
                   help="output format (default markdown)")


def weights(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=("download", "check"),
                   help="download: fetch the ImageNet 'notop' files into Keras' cache (needs "
                        "the network); check: say which are there and intact")
    p.add_argument("--backbone", "--backbones", dest="backbones", nargs="+", metavar="NAME",
                   help="the backbones (default the paper's four; any keras.applications "
                        "classifier, e.g. resnet50)")
    p.add_argument("--mirror", metavar="URL",
                   help="download: a base URL (or file:// folder) holding the files under "
                        "Keras' names instead of Keras' own address")
    p.add_argument("--timeout", type=float, default=60.0,
                   help="download: seconds to wait for the network (default 60)")
