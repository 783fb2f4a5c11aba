"""mkdocs hook: content generated from the shipped models and examples.

Each build reads the export folders under ``site/models/`` and
``site/examples/index.json``, then

* adds ``models/index.json`` (the Compose page's model list) to the site, and
  an empty ``examples/index.json`` when none is committed;
* replaces these markers in the pages' Markdown::

    <!-- cadenza:models -->          table of the shipped models
    <!-- cadenza:curves -->          training loss curves, per model
    <!-- cadenza:model-card -->      a model card per model
    <!-- cadenza:examples -->        every example (audio, piano roll, .mid)
    <!-- cadenza:first-example -->   the first example, or nothing
    <!-- cadenza:tokens -->          a phrase encoded token by token
    <!-- cadenza:vocabulary -->      the default vocabulary's token kinds and ids
    <!-- cadenza:flags COMMAND -->   ``--help`` of any python -m trainer command, or converter

An unknown marker stops the build.
"""

from __future__ import annotations

import json
import posixpath
import re
from pathlib import Path

import cadenza_card
import cadenza_docs
import cadenza_examples
import cadenza_models
from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File

MARKER = re.compile(r"<!-- cadenza:([a-z-]+)(?: ([a-z-]+))? -->")
shipped = {"models": [], "examples": None}  # read afresh by every build


def on_files(files, config):
    docs = Path(config.docs_dir)
    shipped["models"] = cadenza_models.discover(docs / "models")
    shipped["examples"] = cadenza_examples.load(docs / "examples")
    generated = {"models/index.json": cadenza_models.index(shipped["models"])}
    if shipped["examples"] is None:
        generated["examples/index.json"] = {"examples": []}
    for path, content in generated.items():
        if old := files.get_file_from_path(path):
            files.remove(old)
        files.append(File.generated(config, path, content=json.dumps(content, indent=1)))
    return files


def on_page_markdown(markdown: str, page, config, files) -> str:
    return MARKER.sub(lambda m: render(m.group(1), m.group(2), page), markdown)


def render(name: str, argument: str | None, page) -> str:
    models, examples = shipped["models"], shipped["examples"]
    examples_url = posixpath.relpath("examples", page.url or ".") + "/"
    compose_url = posixpath.relpath("compose", page.url or ".") + "/"
    if name == "models":
        return cadenza_models.summary(models)
    if name == "curves":
        return cadenza_models.curves(models)
    if name == "model-card":
        return "\n\n".join(map(cadenza_card.card, models)) or "_No model is shipped yet._"
    if name == "examples":
        return cadenza_examples.page(examples, examples_url, compose_url)
    if name == "first-example":
        return (cadenza_examples.figure(examples[0], examples_url, compose_url)
                if examples else "")
    if name == "tokens":
        return cadenza_docs.token_example()
    if name == "vocabulary":
        return cadenza_docs.vocabulary()
    if name == "flags":
        return cadenza_docs.flags(argument)
    raise PluginError(f"{page.file.src_uri}: unknown marker cadenza:{name}")
