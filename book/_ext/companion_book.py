"""Sphinx extension of the companion's book (loaded through ``_config.yml``).

Three small additions that let ``jupyter-book build book -W`` work on any state of the results:

* **Always re-read the pages that show results.** Sphinx rebuilds only pages whose source
  changed, but ``results.md``, ``analysis.md``, ``performance.md`` and ``notebooks.md`` show
  files written by runs (records, the saved analysis, benchmarks, executed notebooks) that
  Sphinx does not track. They are marked outdated on every build (config value
  ``companion_always_reread``), so they are re-executed and never show stale numbers.
* **A title for executed notebooks that have none.** Notebooks under ``executed/`` are written
  by ``sadutils reproduce`` and listed in the table of contents with a glob. Sphinx cannot link
  a page without a heading (it warns, and warnings are errors here), so such a notebook gets a
  title made from its file name (``03_train-xception`` -> "03 train-xception").
* **The records travel with the book.** Every reproduced number on the results page links to
  its record's JSON file; after an HTML build the records are copied into the output
  (``_build/html/records/<profile>/<run_id>.json``, see
  :func:`sadutils.reporting.book.publish_records`), so the links work wherever the HTML goes.
"""
from docutils import nodes
from sphinx.util import logging

from sadutils.reporting.book import publish_records
from sadutils.workspace import shown_path

EXECUTED = "executed/"
LOG = logging.getLogger(__name__)


def always_outdated(app, env, added, changed, removed):
    return [doc for doc in app.config.companion_always_reread if doc in env.found_docs]


def add_missing_title(app, doctree) -> None:
    docname = app.env.docname
    if not docname.startswith(EXECUTED) or next(iter(doctree.findall(nodes.section)), None):
        return
    title = docname[len(EXECUTED):].replace("_", " ")
    section = nodes.section(ids=[nodes.make_id(docname)], names=[nodes.fully_normalize_name(title)])
    section += nodes.title(title, title)
    children = list(doctree.children)
    doctree.clear()
    section.extend(children)
    doctree += section


def copy_records(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    written = publish_records(app.outdir)
    LOG.info(f"companion_book: {len(written)} records published under "
             f"{shown_path(app.outdir)}/records/")


def setup(app):
    app.add_config_value("companion_always_reread",
                         ["method", "results", "trust", "analysis", "performance",
                          "notebooks"], "env")
    app.connect("env-get-outdated", always_outdated)
    app.connect("build-finished", copy_records)
    # Before Sphinx's own collectors (priority 500) read titles and tables of contents.
    app.connect("doctree-read", add_missing_title, priority=100)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
