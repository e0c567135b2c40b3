"""The checks of .ci/check_slurm.sh on what its runs left in its working folder.

    python .ci/slurm/verify.py WORK [AGAINST]

WORK holds the stand-in SLURM's log (``fake/``), the SLURM run's results (``results-slurm``),
the outputs of the second call (``second.txt``) and the tables (``tables-slurm.csv``, and
``tables-local.csv`` of the local run unless AGAINST names the results root of a demo run to
compare the models' metrics with).
"""
import csv, glob, json, sys
from pathlib import Path
work, against = Path(sys.argv[1]), sys.argv[2]
calls = [json.loads(line) for line in (work / "fake" / "calls.jsonl").read_text().splitlines()]
refused = [c for c in calls if "refused" in c]
assert not refused, f"stand-in SLURM refused calls: {refused}"
sbatch = [c for c in calls if c["command"] == "sbatch"]
jobs = [json.loads(p.read_text()) for p in sorted((work / "fake" / "jobs").glob("*.json"))]
runs = [j["comment"].split("_wildcards_")[1] for j in jobs]
expected = ["01_text_classifier", "02_filtering", "03_train-efficientnetv2b0-seed1234",
            "03_train-efficientnetv2b0-seed1235", "05_no_pretrain-seed1234",
            "05_no_pretrain-seed1235", "04_cross_dataset", "06_analysis",
            # the text ablation on the requested backbone: unfiltered, and the demo's filter
            # (its runs reuse the models above), then its chapter
            *[f"03_train-efficientnetv2b0-filter-{f}-seed{s}" for f in ("none", "ocr")
              for s in (1234, 1235)], "07_text_ablation"]
completed = [r for r, j in zip(runs, jobs) if j["state"] == "COMPLETED"]
assert sorted(completed) == sorted(expected), runs  # one job per run, each seed its own
# a job that failed (a kernel that did not start in time on a loaded machine) is submitted
# again by Snakemake (`retries`): allowed, and shown
retried = [r for r, j in zip(runs, jobs) if j["state"] == "FAILED"]
assert len(sbatch) == len(jobs) == len(expected) + len(retried), (len(sbatch), runs)
preempted = [j for j in jobs if j.get("preempted_at")]
assert len(preempted) == 1 and "seed1235" in preempted[0]["comment"], preempted
assert preempted[0]["restarts"] == 1  # requeued by SLURM, same job id
for job in jobs:
    options, run = job["options"], job["comment"].split("_wildcards_")[1]
    gpu = run.split("-")[0] in ("01_text_classifier", "03_train", "05_no_pretrain")
    assert (options.get("--gpus") == "1") == gpu, (run, options)
    assert int(options["-t"]) > 0 and int(options["--mem"]) > 0, (run, options)
    assert int(options["--cpus-per-task"]) >= 1 and options.get("--requeue"), (run, options)
srun = [c for c in calls if c["command"] == "srun"]
assert len(srun) == len(jobs) + 1, len(srun)  # each job's step through srun, the requeued twice
records = [json.loads(Path(p).read_text()) for p in
           glob.glob(str(work / "results-slurm/demo/records/*.json"))]
# the preempted run's model (05 trains an Xception of the same seed as well: not that one)
resumed = [r for r in records if r.get("kind") == "train" and r.get("backbone") == "efficientnetv2b0"
           and (r.get("provenance") or {}).get("seed") == 1235]
assert len(resumed) == 1 and resumed[0]["params"]["resumed_from_epoch"] >= 1, \
    [r["params"].get("resumed_from_epoch") for r in resumed]
second = (work / "second.txt").read_text()
assert second.count("skip (up to date)") == len(expected) and "queued" not in second, second
slurm = (work / "tables-slurm.csv").read_text()
if against:  # the same models in a demo run of this checkout: the same metrics
    def models(root):
        out = {}
        for p in glob.glob(str(Path(root) / "demo/records/*.json")):
            r = json.loads(Path(p).read_text())
            if r.get("kind") in ("text_classifier", "filter", "train", "ablation"):
                key = (r["kind"], r.get("backbone"), (r.get("provenance") or {}).get("seed"))
                out.setdefault(key, []).append(r)
        return out
    ours, theirs = models(work / "results-slurm"), models(against)
    compared = 0
    for key, records in ours.items():
        assert key in theirs, f"{key} is not in the records under {against}"
        mine = {k: v for k, v in records[-1]["metrics"].items()}
        assert any(mine == r["metrics"] for r in theirs[key]), (key, mine,
                                                                [r["metrics"] for r in theirs[key]])
        compared += 1
    assert compared >= 6, compared
    local = f"the metrics of its {compared} models equal those of {against}"
else:
    local = (work / "tables-local.csv").read_text()
    assert slurm == local, "tables differ:\n" + slurm + "\n---\n" + local
    local = f"tables equal the local run's ({len(slurm.splitlines())} lines)"
header, seeds = None, None
for row in csv.reader(slurm.splitlines()):
    if "seeds" in row:
        header = row
    elif header and row and row[0] == "EfficientNetV2B0" and seeds is None:
        seeds = row[header.index("seeds")]  # Table 1's row: the first with this name
print("check_slurm: calls checked:", {c: sum(x["command"] == c for x in calls)
                                      for c in sorted({x["command"] for x in calls})})
print(f"check_slurm: jobs submitted again after a failure: {retried or 'none'}")
print(f"check_slurm: preempted job {preempted[0]['id']} resumed from epoch "
      f"{resumed[-1]['params']['resumed_from_epoch']}; {local}")
assert seeds == "2", f"Table 1's EfficientNetV2B0 row has seeds {seeds!r}, not 2"
print("check_slurm: `sadutils tables` shows EfficientNetV2B0 with 2 seeds")
