"""Command-line flags derived from the config dataclasses.

Every field of a command's config classes becomes ``--field-name``, with the
field's help, type and choices. Only flags the user actually gave are returned,
so callers can layer them over defaults or over a saved ``config.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import shlex
import typing
from pathlib import Path

from trainer.config import (CalibrateConfig, CodecConfig, DataConfig, EvalConfig, FormConfig,
                            HarmonizeConfig, HarmonyEvalConfig, ModelConfig, SampleConfig,
                            SamplingConfig, TrainConfig)
from trainer.errors import CadenzaError

COMMANDS: dict[str, tuple[str, tuple[type, ...]]] = {
    "prepare": ("read, check and cache a MIDI corpus", (DataConfig, CodecConfig)),
    "train": ("train the LSTM on a corpus",
              (DataConfig, CodecConfig, ModelConfig, TrainConfig)),
    "sample": ("compose songs with a trained run", (SampleConfig, SamplingConfig)),
    "calibrate": ("fit a trained run's softmax temperature on its validation songs and "
                  "bake it into its best weights", (CalibrateConfig,)),
    "form": ("fit a trained run's form head: at each bar line, whether a bar comes back "
             "(python -m trainer form --run-dir RUN, after calibrate)", (FormConfig,)),
    "evaluate": ("score a trained run against held-out songs and an n-gram baseline",
                 (EvalConfig,)),
    "harmonize": ("harmonize a melody: it stays the top voice, the model writes the parts "
                  "beneath it (to continue a melody instead, use sample --prime-file)",
                  (HarmonizeConfig, SamplingConfig)),
    "evaluate-harmony": ("harmonize the top line of each test song and compare with the "
                         "song's own harmony", (HarmonyEvalConfig,)),
}


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one-line :class:`CadenzaError`s."""

    def error(self, message):
        raise CadenzaError(f"{self.prog}: {message}")


def build_parser(commands=COMMANDS) -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m trainer",
                     description="Cadenza: train an LSTM on MIDI files and compose with it.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (help_text, classes) in commands.items():
        _add_fields(sub.add_parser(name, help=help_text, description=help_text), classes)
    return parser


def _add_fields(parser, classes) -> None:
    seen = set()
    for cls in classes:
        group = parser.add_argument_group(cls.__doc__.strip().splitlines()[0].rstrip("."))
        for f in dataclasses.fields(cls):
            if f.name not in seen:
                seen.add(f.name)
                _add_flag(group, f, typing.get_type_hints(cls)[f.name])


def _add_flag(group, f: dataclasses.Field, hint) -> None:
    meta = f.metadata
    kwargs = {"dest": f.name, "default": argparse.SUPPRESS}
    if hint is bool:
        kwargs["action"] = "store_true"
    elif typing.get_origin(hint) is tuple:
        kwargs.update(nargs="+", type=typing.get_args(hint)[0], metavar="N")
    else:
        base = Path if (hint is Path or Path in typing.get_args(hint)) else hint
        kwargs["type"] = base
        kwargs["metavar"] = {Path: "FILE", int: "N", float: "X", str: "NAME"}[base]
        if base is Path and f.name.endswith("_dir"):
            kwargs["metavar"] = "DIR"
    if "choices" in meta:
        kwargs["choices"] = meta["choices"]
    if meta.get("required"):
        kwargs["required"] = True
    default = "" if f.default in (None, (), dataclasses.MISSING) or meta.get("required") \
        else f" (default: {f.default})"
    kwargs["help"] = meta.get("help", "") + default
    group.add_argument("--" + f.name.replace("_", "-"), **kwargs)


def parse_flags(argv, prog: str, description: str, classes) -> dict[type, dict]:
    """Flags of a program without subcommands: ``{config class: {field: value}}``."""
    parser = _Parser(prog=prog, description=description)
    _add_fields(parser, classes)
    ns = vars(parser.parse_args(argv))
    return {cls: {f.name: ns[f.name] for f in dataclasses.fields(cls) if f.name in ns}
            for cls in classes}


def command_line(command: str, configs) -> str:
    """The ``python -m trainer`` call that recreates ``configs`` (non-default flags only)."""
    words = ["python -m trainer", command]
    for cfg in configs:
        for f in dataclasses.fields(cfg):
            value = getattr(cfg, f.name)
            default = None if f.default is dataclasses.MISSING else f.default
            if value == default or (f.name == "resume"):
                continue
            flag = "--" + f.name.replace("_", "-")
            if value is True:
                words.append(flag)
            elif isinstance(value, tuple):
                words += [flag, *map(str, value)]
            else:
                words += [flag, shlex.quote(str(value))]
    return " ".join(words)


def parse(argv=None, commands=COMMANDS) -> tuple[str, dict[type, dict]]:
    """``(command, {config class: {field: value}})`` for the flags given in ``argv``."""
    ns = vars(build_parser(commands).parse_args(argv))
    command = ns.pop("command")
    given = {}
    for cls in commands[command][1]:
        names = {f.name for f in dataclasses.fields(cls)}
        given[cls] = {k: v for k, v in ns.items() if k in names}
    return command, given
