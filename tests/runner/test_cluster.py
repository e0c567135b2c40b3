"""Runs as cluster jobs: the dry run (jobs, why, resources), the Snakefile derived from the
plan, and ``sadutils run-notebook``, the one command each job calls.

Nothing here needs a cluster or data: dry runs of the real graph read no dataset, and the
notebooks that run are tiny throwaway ones. The end-to-end run through the SLURM executor (with
stand-in SLURM commands) is ``.ci/check_slurm.sh``.
"""
from __future__ import annotations

import json
import os
import subprocess
from collections import Counter

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from sadutils.backbones import PAPER_BACKBONES
from sadutils.cli import arguments, main
from sadutils.runner import execute as rp
from sadutils.runner import snakemake as sm
from sadutils.runner.plan import Plan, prepare, read_state
from sadutils.runner.steps import load_runs
from sadutils.workspace import Workspace, repo_root

PROFILE = repo_root() / "profiles" / "slurm"


def _dry(capsys, *argv) -> list[str]:
    assert main(["reproduce", "--dry-run", *argv]) == 0
    return capsys.readouterr().out.splitlines()


def test_executors_are_declared_once():
    assert arguments.EXECUTORS == rp.EXECUTORS


def test_paper_dry_run_lists_every_job_with_its_resources(isolated, capsys):
    """`reproduce --dry-run --profile paper --seeds 5 --executor slurm`, without any data: one
    job per run, 5 per Table 1 row and per row of the text ablation (four backbones, four text
    filters), each with what it asks SLURM for."""
    lines = _dry(capsys, "--profile", "paper", "--seeds", "5", "--executor", "slurm")
    assert lines[0].startswith("dry run (profile paper, executor slurm, cluster profile ")
    assert lines[0].endswith("110 of 110 runs would run, one job each")
    jobs = [line for line in lines[1:] if ": would run (never run); " in line]
    assert len(jobs) == 110 == len(lines) - 1
    per_step = Counter(line.split("] ")[1].split("-")[0].split(":")[0] for line in jobs)
    assert per_step == {"01_text_classifier": 1, "02_filtering": 1, "03_train": 20 + 80,
                        "05_no_pretrain": 5, "04_cross_dataset": 1, "06_analysis": 1,
                        "07_text_ablation": 1}
    for backbone in PAPER_BACKBONES:  # 5 seeds per Table 1 row
        assert sum(f"03_train-{backbone}-seed" in line for line in jobs) == 5
        for train_filter in ("none", "cnn", "ocr", "both"):  # and per (backbone, filter)
            assert sum(f"03_train-{backbone}-filter-{train_filter}-seed" in line
                       for line in jobs) == 5
    by_run = {line.split("] ")[1].split(":")[0]: line.split("); ")[1] for line in jobs}
    assert by_run["03_train-efficientnetv2s-seed1238"] == "1 GPU, 8 CPUs, 32000 MB, 360 min"
    assert by_run["05_no_pretrain-seed1234"] == "1 GPU, 8 CPUs, 32000 MB, 360 min"
    assert by_run["01_text_classifier"] == "1 GPU, 8 CPUs, 32000 MB, 240 min"
    assert by_run["02_filtering"] == "no GPU, 16 CPUs, 32000 MB, 240 min"
    assert by_run["04_cross_dataset"] == "no GPU, 8 CPUs, 32000 MB, 120 min"
    assert by_run["03_train-xception-filter-none-seed1236"] == "1 GPU, 8 CPUs, 32000 MB, 360 min"
    assert by_run["07_text_ablation"] == "no GPU, 8 CPUs, 32000 MB, 120 min"
    # nothing was made: no data, no state, no executed notebook
    assert not (isolated / "data").exists() and not (isolated / "results").exists()


def test_demo_dry_run(isolated, capsys):
    """The demo default: 3 seeds per Table 1 row; the local executor lists GPUs only."""
    lines = _dry(capsys, "--executor", "slurm", "--backbones", "efficientnetv2b0")
    assert [line.split("] ")[1].split(":")[0] for line in lines[1:]] == [
        "01_text_classifier", "02_filtering",
        *[f"03_train-efficientnetv2b0-seed{s}" for s in (1234, 1235, 1236)],
        *[f"03_train-efficientnetv2b0-filter-{f}-seed{s}" for f in ("none", "ocr")
          for s in (1234, 1235, 1236)],
        *[f"05_no_pretrain-seed{s}" for s in (1234, 1235, 1236)],
        "04_cross_dataset", "06_analysis", "07_text_ablation"]
    local = _dry(capsys, "--backbones", "efficientnetv2b0", "--seeds", "2",
                 "--train-filters", "none")
    assert local[0] == "dry run (profile demo, executor local): 11 of 11 runs would run, one " \
                       "job each"
    assert local[2] == "[2/11] 02_filtering: would run (never run); no GPU"
    assert local[3] == "[3/11] 03_train-efficientnetv2b0-seed1234: would run (never run); 1 GPU"
    assert local[5] == ("[5/11] 03_train-efficientnetv2b0-filter-none-seed1234: would run "
                        "(never run); 1 GPU")
    assert not (isolated / "data").exists()  # a dry run makes no demo data


def _tiny(name: str) -> nbformat.NotebookNode:
    params = new_code_cell('profile = "demo"\nseeds = None\nbackbone = "x"\nfail = False\n'
                           "notebook_name = None\n")
    params.metadata["tags"] = ["parameters"]
    nb = new_notebook(cells=[
        new_markdown_cell(f"# Step {name}"), params,
        new_code_cell("import os\nwith open(os.environ['REPRO_LOG'], 'a') as fh:\n"
                      f"    fh.write(f'{name} {{notebook_name}} {{seeds}}\\n')"),
        new_code_cell(f"assert not fail, 'boom in {name}'")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    return nb


GRAPH = ("steps:\n  - notebook: prep\n  - notebook: fit\n    per: [backbone, seed]\n"
         "    after: [prep]\n    gpus: 1\n  - notebook: ablate\n    per: seed\n"
         "    after: [fit]\n    gpus: 1\n  - notebook: report\n    after: [ablate, fit]\n")


@pytest.fixture
def tiny(tmp_path, monkeypatch):
    """A graph of tiny notebooks fanned out over two backbones and two seeds: its folder and
    a function making its plan."""
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    for name in ("prep", "fit", "ablate", "report"):
        nbformat.write(_tiny(name), str(notebooks / f"{name}.ipynb"))
    (notebooks / "pipeline.yml").write_text(GRAPH)
    monkeypatch.setenv("SADUTILS_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("SADUTILS_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("REPRO_LOG", str(tmp_path / "log.txt"))

    def plan(**options) -> Plan:
        runs = load_runs(notebooks / "pipeline.yml", ["xception", "efficientnetv2b0"], [5, 6])
        return prepare(Workspace.create("demo"), runs=runs, notebooks=notebooks,
                       executed=tmp_path / "executed", echo=lambda *a: None, **options)
    return tmp_path, plan


def test_snakefile_has_one_rule_per_notebook_and_one_job_per_run(tiny):
    folder, make = tiny
    plan = make()
    assert [r.name for r in plan.selected] == [
        "prep", "fit-xception-seed5", "fit-xception-seed6", "fit-efficientnetv2b0-seed5",
        "fit-efficientnetv2b0-seed6", "ablate-seed5", "ablate-seed6", "report"]
    todo = plan.selected[1:]  # as if prep were up to date
    text = sm.snakefile_text(plan, todo, folder / "plan.json", python="/py")
    assert [line for line in text.splitlines() if line.startswith("rule ")] == \
        ["rule all:", "rule nb_fit:", "rule nb_ablate:", "rule nb_report:"]
    waits = json.loads(text.split("WAITS = ", 1)[1].split("\n\n", 1)[0])
    assert list(waits) == [r.name for r in todo]
    assert waits["fit-xception-seed5"] == []  # prep is not run: nothing to wait for
    assert waits["ablate-seed6"] == ["done/fit-xception-seed6", "done/fit-efficientnetv2b0-seed6"]
    assert len(waits["report"]) == 6
    fit = text.split("rule nb_fit:")[1].split("rule nb_ablate:")[0]
    assert "    resources: gpu=1\n" in fit
    assert 'run="fit\\\\-xception\\\\-seed5|' in fit  # the rule takes its own runs only
    assert f"/py -m sadutils run-notebook {{wildcards.run}} --plan {folder / 'plan.json'} " \
           "&& touch {output}" in fit
    assert str(folder / "executed" / "{run}.ipynb") in fit  # kept as a log, never deleted
    assert "resources:" not in text.split("rule nb_report:")[1]


def test_resources_come_from_the_profile_then_the_graph():
    profile = {"default-resources": ["runtime=60", "mem_mb=16000", "slurm_partition=cpu"],
               "set-resources": {"nb_fit": {"runtime": 300, "slurm_partition": "gpu"}}}
    fit = load_runs(repo_root() / "notebooks" / "pipeline.yml", ["xception"], 1)[2]
    assert sm.job_resources(fit, None) == {"gpu": 1}
    assert sm.rule_name("03_train") == "nb_03_train"
    profile["set-resources"]["nb_03_train"] = profile["set-resources"].pop("nb_fit")
    resources = sm.job_resources(fit, profile)
    assert resources == {"runtime": 300, "mem_mb": 16000, "slurm_partition": "gpu", "gpu": 1}
    assert sm.describe_resources(resources) == "1 GPU, 16000 MB, 300 min, partition gpu"
    assert sm.describe_resources({"cpus_per_task": 2}) == "no GPU, 2 CPUs"


def test_the_shipped_cluster_profile_is_a_slurm_profile():
    profile = sm.read_cluster_profile(PROFILE)
    assert profile["executor"] == "slurm" and profile["retries"] >= 1
    assert profile["slurm-requeue"] is True
    runs = load_runs(seeds=1)
    for run in runs:  # every rule is given a time and memory; training a GPU
        resources = sm.job_resources(run, profile)
        assert resources["runtime"] > 0 and resources["mem_mb"] > 0
        assert resources.get("gpu", 0) == (1 if run.notebook in
                                           ("01_text_classifier", "03_train",
                                            "05_no_pretrain") else 0)
    assert set(profile["set-resources"]) == {sm.rule_name(r.notebook) for r in runs}


def test_bad_cluster_profiles_are_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match="config.yaml not found"):
        sm.read_cluster_profile(tmp_path)
    (tmp_path / "config.yaml").write_text("- a\n- b\n")
    with pytest.raises(ValueError, match="expected a mapping"):
        sm.read_cluster_profile(tmp_path)


def test_run_notebook_runs_one_run_of_a_plan_and_records_it(tiny, capsys):
    folder, make = tiny
    plan = make()
    plan_file = folder / "plan.json"
    plan_file.write_text(json.dumps(plan.to_json()))
    assert Plan.from_json(json.loads(plan_file.read_text())).parameters == plan.parameters
    assert main(["run-notebook", "fit-xception-seed6", "--plan", str(plan_file)]) == 0
    assert (folder / "log.txt").read_text() == "fit fit-xception-seed6 [6]\n"
    assert "fit-xception-seed6: ran in " in capsys.readouterr().out
    executed = nbformat.read(str(folder / "executed" / "fit-xception-seed6.ipynb"), 4)
    assert executed.cells[0].source == "# Step fit: Xception, seed 6"
    ws = Workspace.create("demo")
    assert read_state(ws.state_file, "demo")["runs"]["fit-xception-seed6"]["status"] == "ok"
    assert ws.log_file("fit-xception-seed6").read_text().startswith(
        "sadutils reproduce: fit-xception-seed6 (asked for by run-notebook), started")
    # the local runner sees it: up to date, as the other runs are not
    why = make(only=["fit"]).predict(read_state(ws.state_file, "demo"))
    assert why["fit-xception-seed6"] is None and why["fit-xception-seed5"] == "never run"
    # a failure is status 1; a run the plan does not have, or a file that is not a plan, 2
    bad = make(overrides=["ablate:fail=True"])
    plan_file.write_text(json.dumps(bad.to_json()))
    assert main(["run-notebook", "ablate-seed5", "--plan", str(plan_file)]) == 1
    assert "ablate-seed5: FAILED after" in capsys.readouterr().out
    assert main(["run-notebook", "nope", "--plan", str(plan_file)]) == 2
    assert "no run 'nope' in the plan; its runs: prep, fit-xception-seed5" in \
        capsys.readouterr().err
    plan_file.write_text('{"runs": 3}')
    assert main(["run-notebook", "prep", "--plan", str(plan_file)]) == 2
    assert "not a plan written by sadutils reproduce" in capsys.readouterr().err


def test_a_seeds_parameter_for_a_step_fanned_out_over_seeds_is_refused(tiny):
    _, make = tiny
    with pytest.raises(ValueError, match="-p fit:seeds: fit runs once per seed; say how many "
                                         "seeds with --seeds N"):
        make(overrides=["fit:seeds=3"])


def test_predict_runs_dependents_of_what_runs(tiny):
    """Before anything runs, a run whose own inputs did not change is listed as running all
    the same when a run it depends on runs (its results will change)."""
    folder, make = tiny
    plan = make()
    state = {"version": 1, "profile": "demo", "runs": {}}
    assert set(plan.predict(state).values()) == {"never run"}
    assert set(plan.predict(state, force=True).values()) == {"forced"}
    for i, run in enumerate(plan.selected[1:]):  # everything but prep up to date
        state["runs"][run.name] = {"status": "ok", "inputs": plan.inputs(run, state),
                                   "execution": f"e{i}"}
        plan.output(run).parent.mkdir(parents=True, exist_ok=True)
        plan.output(run).write_text("{}")
    why = plan.predict(state)
    assert why["prep"] == "never run"
    assert why["fit-efficientnetv2b0-seed6"] == "prep runs first"
    assert why["ablate-seed5"] == "fit-xception-seed5 runs first"
    assert why["report"] == "ablate-seed5 runs first"
    # without prep selected, nothing would run
    assert set(make(only=["fit", "ablate", "report"]).predict(state).values()) == {None}


def test_snakemake_reads_the_generated_snakefile(tiny):
    """Snakemake's own dry run of the derived Snakefile: one job per run, in the rules the
    graph names (skips where Snakemake is not installed; .ci/check_slurm.sh requires it)."""
    try:
        executable = sm.find_snakemake()
    except FileNotFoundError as exc:
        if os.environ.get("SADUTILS_REQUIRE_SNAKEMAKE"):
            raise
        pytest.skip(str(exc))
    folder, make = tiny
    plan = make()
    work = folder / "smk"
    work.mkdir()
    (work / "Snakefile").write_text(sm.snakefile_text(plan, plan.selected, work / "plan.json"))
    done = subprocess.run([executable, "--snakefile", str(work / "Snakefile"), "--directory",
                           str(work), "--dry-run", "--forceall", "--cores", "1", "--quiet",
                           "rules"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    stats = [w for w in done.stdout.split("Job stats:")[1].split("Reasons:")[0].split()
             if not w.startswith("-")]
    counts = dict(zip(stats[::2], stats[1::2]))
    assert counts == {"job": "count", "all": "1", "nb_prep": "1", "nb_fit": "4",
                      "nb_ablate": "2", "nb_report": "1", "total": "9"}


def test_an_executor_that_cannot_run_is_refused_before_anything_runs(isolated, monkeypatch,
                                                                      capsys):
    monkeypatch.setenv("SADUTILS_SNAKEMAKE", str(isolated / "no-snakemake"))
    assert main(["reproduce", "--executor", "slurm"]) == 2
    assert "$SADUTILS_SNAKEMAKE=" in capsys.readouterr().err
    assert main(["reproduce", "--executor", "slurm", "--dry-run", "--cluster-profile",
                 str(isolated)]) == 2
    assert f"cluster profile {isolated / 'config.yaml'} not found" in capsys.readouterr().err
    assert not (isolated / "data").exists() and not (isolated / "results").exists()


def test_snakemake_command_lines(tmp_path, monkeypatch):
    monkeypatch.setenv("SADUTILS_SNAKEMAKE", str(tmp_path / "snakemake"))
    (tmp_path / "snakemake").write_text("")
    slurm = sm.snakemake_command(tmp_path / "Snakefile", "slurm", None, PROFILE)
    assert slurm[0] == str(tmp_path / "snakemake")
    assert "--jobs" not in slurm  # the profile's `jobs`, unless --jobs says otherwise
    assert slurm[slurm.index("--workflow-profile") + 1] == str(PROFILE)
    assert {"--forceall", "--keep-going"} <= set(slurm)
    assert sm.snakemake_command(tmp_path / "Snakefile", "slurm", 8, PROFILE)[-2:] == \
        ["--jobs", "8"]
    local = sm.snakemake_command(tmp_path / "Snakefile", "snakemake", None, None)
    assert local[-4:] == ["--jobs", "1", "--cores", "1"] and "--executor" not in local


def test_the_snakemake_tool_environment_is_locked_within_its_ranges():
    """requirements/lock-snakemake-linux-py311.txt (scripts/cluster.sh installs it) pins every
    package with hashes, Snakemake and its SLURM plugin within requirements/snakemake.in."""
    from packaging.requirements import Requirement

    folder = repo_root() / "requirements"
    wanted = [Requirement(line) for line in (folder / "snakemake.in").read_text().splitlines()
              if line.strip() and not line.startswith("#")]
    text = (folder / "lock-snakemake-linux-py311.txt").read_text()
    entries = [e for e in text.split("\n") if e and e[0].isalpha()]
    pins = dict(e.split(" ")[0].split("==") for e in entries)
    assert len(pins) > 40 and text.count("--hash=sha256:") >= len(pins)
    for requirement in wanted:
        assert requirement.specifier.contains(pins[requirement.name]), (requirement, pins)


def test_run_notebook_without_a_plan_names_the_runs(isolated, capsys):
    assert main(["run-notebook", "nope"]) == 2
    assert "unknown notebook 'nope' in RUN; valid names: 01_text_classifier" in \
        capsys.readouterr().err
    assert main(["run-notebook", "03_train", "--seeds", "1"]) == 2  # a notebook is no run
    assert "no run '03_train' in the plan; its runs: 03_train-xception-seed1234" in \
        capsys.readouterr().err
    assert not (isolated / "results").exists()
