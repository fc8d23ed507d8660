"""README.md and docs/*.md against the code, so a renamed key fails here, not the reader: every documented
command composes and validates (a sweep at its first values), or names a module, subcommand or Make target;
a `$ command` followed by `blurb-lab: ...` fails with that line; links, anchors, option names, group
options and repository paths exist; every config key is documented; no line over 200 characters but rows
of number tables."""

from __future__ import annotations

import contextlib
import functools
import importlib
import importlib.util
import io
import re
import shlex
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import tomllib
from hydra import initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import IntervalSweep
from omegaconf import DictConfig, OmegaConf

from blurb_lab.config.compose import CONFIG_DIR, explain_compose_error
from blurb_lab.config.validate import validate
from blurb_lab.errors import BlurbLabError
from tests.conftest import compose_config

REPO = Path(__file__).resolve().parents[2]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
MAX_LINE = 200
# Command lines with placeholders that cannot be composed; keep this minimal and explicit.
PLACEHOLDER_COMMANDS: frozenset[str] = frozenset()
# Paths that exist only in a built wheel, not in the checkout.
BUILD_ONLY_PATHS = frozenset({"blurb_lab/_conf"})
HYDRA_GROUPS = ("hydra/launcher", "hydra/sweeper", "hydra/sweeper/sampler", "hydra/sweeper/pruner")
# `blurb-lab evaluate: data error: ...` is a message, not a command.
CLI = re.compile(r"^(?:python3? -m blurb_lab|blurb-lab(?!\s+[\w-]+:)|torchrun\b.*?-m blurb_lab)(?=\s|$)")
MODULE = re.compile(r"^python3? -m (blurb_lab\.[\w.]+)")
MAKE = re.compile(r"^make\s+([\w.-]+)")
DOTTED = re.compile(r"^([A-Za-z_]\w*(?:\.(?:\w+|\*))+)")
GROUP_OPTION = re.compile(r"^([a-z_]+(?:/[a-z_]+)*)=\[?([\w,]+)\]?$")
REPO_PATH = re.compile(r"^(?:blurb_lab|hydra_plugins|tests|conf|docs)/[\w./*-]*$")
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^\s*(```|~~~)")
TARGET = re.compile(r"^([\w.-]+(?:[ \t]+[\w.-]+)*)[ \t]*:(?!=)")


@dataclass(frozen=True)
class Command:
    doc: str
    line: int
    text: str
    error: str | None = None  # the one line a `$ command` is documented to fail with


def split_doc(text: str) -> tuple[list[tuple[int, str]], str]:
    """(numbered lines inside fenced code blocks, the text outside them with code blocks blanked)."""
    fenced, outside, inside = [], [], False
    for number, line in enumerate(text.splitlines(), 1):
        fence = bool(FENCE.match(line))
        inside ^= fence
        if inside and not fence:
            fenced.append((number, line))
        outside.append("" if inside or fence else line)
    return fenced, "\n".join(outside)


def inline_code(outside: str) -> list[tuple[int, str]]:
    """Inline code spans (which may wrap over lines) with the line they start on."""
    return [
        (outside.count("\n", 0, m.start()) + 1, " ".join(m.group(1).split()))
        for m in re.finditer(r"`([^`]+)`", outside)
    ]


def shell_words(text: str) -> list[str]:
    """The words of a command line; plain whitespace where prose inside it breaks shell quoting."""
    try:
        return shlex.split(text, comments=True)
    except ValueError:
        return text.split()


def is_command(text: str) -> bool:
    return bool(CLI.match(text) or MAKE.match(text) or MODULE.match(text))


def mentioned(text: str) -> list[tuple[int, str]]:
    """(line, word) for every word of inline code, stripped of the quotes and prefixes around a key."""
    return [(n, w.lstrip("'\"(+~")) for n, span in inline_code(split_doc(text)[1]) for w in span.split()]


def extract_commands(doc: str, text: str) -> list[Command]:
    """Commands of inline code and of code blocks (continued lines joined, a `$ ` prompt dropped)."""
    fenced, outside = split_doc(text)
    found = [Command(doc, n, span) for n, span in inline_code(outside) if is_command(span)]
    joined: list[tuple[int, str]] = []
    for n, line in fenced:
        if joined and joined[-1][1].endswith("\\"):
            joined[-1] = (joined[-1][0], joined[-1][1][:-1].rstrip() + " " + line.strip())
        else:
            joined.append((n, line.strip()))
    for (n, line), (_, after) in zip(joined, [*joined[1:], (0, "")], strict=False):
        error = after.removeprefix("blurb-lab: ") if line.startswith("$ ") and after.startswith("blurb-lab: ") else None
        if is_command(line.removeprefix("$ ")):
            found.append(Command(doc, n, line.removeprefix("$ "), error))
    return found


def first_values(overrides: list[str]) -> tuple[str, ...]:
    """The overrides with every sweep reduced to its first value (an interval to its start)."""
    out = []
    for override in OverridesParser.create().parse_overrides(overrides):
        if not override.is_sweep_override():
            out.append(override.input_line)
            continue
        value = override.value()
        first = repr(value.start) if isinstance(value, IntervalSweep) else next(override.sweep_string_iterator())
        out.append(f"{override.get_key_element()}={first}")
    return tuple(out)


@functools.cache
def composed(overrides: tuple[str, ...]) -> DictConfig:
    return compose_config(overrides, hydra=True)


@functools.cache
def complete_recipes() -> str:
    """A recipes file with an entry for every model and task option: documented second-stage commands
    read the first stage's output (study.recipes), which a checkout does not have."""
    from hydra_plugins.blurb_optuna_sweeper._strata import write_recipes

    folder = Path(tempfile.mkdtemp(prefix="blurb_docs_recipes_"))
    options = {group: sorted(p.stem for p in Path(CONFIG_DIR, group).glob("*.yaml")) for group in ("model", "task")}
    entries = [{"model": m, "task": t, "lr": 3e-5, "batch_size": 16, "epochs": 1, "chosen_by": "test_docs"}
               for m in options["model"] for t in options["task"]]  # fmt: skip
    return str(write_recipes(entries, folder))


def with_recipes(overrides: tuple[str, ...]) -> tuple[str, ...]:
    """The overrides, reading complete_recipes() where they name a recipes file that does not exist."""
    path = OmegaConf.select(composed(overrides), "study.recipes")
    return overrides + (f"study.recipes={complete_recipes()}",) if path and not Path(path).exists() else overrides


@functools.cache
def config_error(overrides: tuple[str, ...]) -> str | None:
    """None when the overrides compose and validate, else the one line preflight prints after 'blurb-lab: '."""
    try:
        validate(composed(with_recipes(first_values(list(overrides)))))
    except BlurbLabError as exc:
        return str(exc)
    except Exception as exc:
        return explain_compose_error(exc)
    return None


@functools.cache
def subcommand_help(name: str) -> str:
    """What `blurb-lab <name> --help` prints, through the installed entry point ('' when it is no subcommand)."""
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    module, _, func = scripts["blurb-lab"].partition(":")
    main = getattr(importlib.import_module(module), func)
    out = io.StringIO()
    with mock.patch.object(sys, "argv", ["blurb-lab", name, "--help"]), contextlib.redirect_stdout(out):
        with contextlib.suppress(SystemExit, Exception):  # Hydra's own errors when the word is no subcommand
            main()
    return out.getvalue() if out.getvalue().startswith(f"usage: blurb-lab {name}") else ""


@functools.cache
def make_targets() -> frozenset[str]:
    lines = (REPO / "Makefile").read_text().splitlines()
    return frozenset(name for line in lines if (m := TARGET.match(line)) for name in m[1].split())


def cli_problem(command: Command, words: list[str]) -> str | None:
    overrides, skip = [], False
    for word in words:
        if skip or word in ("--cfg", "-c", "--package", "-p"):
            skip = not skip
        elif not word.startswith("-"):
            overrides.append(word)
    if overrides and "=" not in overrides[0]:
        help_text = subcommand_help(overrides[0])
        if not help_text:
            return f"'{overrides[0]}' is not a blurb-lab subcommand"
        flags = re.findall(r"(?<![\w-])--[\w-]+", command.text)
        unknown = [flag for flag in flags if flag not in help_text]
        return f"blurb-lab {overrides[0]}: no option {', '.join(unknown)}" if unknown else None
    if any("<" in o or "..." in o for o in overrides) and command.text not in PLACEHOLDER_COMMANDS:
        return "placeholder in a command: give real values, or list it in PLACEHOLDER_COMMANDS"
    error = config_error(tuple(overrides)) if command.text not in PLACEHOLDER_COMMANDS else None
    if command.error is not None:
        return None if error == command.error else f"documented error {command.error!r}, got {error!r}"
    return error


def command_problem(command: Command) -> str | None:
    """What is wrong with a documented command, or None."""
    if match := MODULE.match(command.text):
        return None if importlib.util.find_spec(match.group(1)) else f"no module {match.group(1)}"
    if match := MAKE.match(command.text):
        if match.group(1) not in make_targets():
            return f"the Makefile has no target '{match.group(1)}'"
        args = [w.partition("=")[2] for w in shell_words(command.text) if w.startswith("ARGS=")]
        return config_error(tuple(shlex.split(args[0]))) if args else None
    return cli_problem(command, shell_words(CLI.sub("", command.text)))


def slugs(text: str) -> set[str]:
    """GitHub's heading anchors: lowercase, punctuation but - and _ dropped, spaces to -, repeats -1, -2."""
    seen: dict[str, int] = {}
    out: set[str] = set()
    for line in split_doc(text)[1].splitlines():
        if match := re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line):
            slug = re.sub(r"[^\w\- ]", "", match.group(1).lower()).replace(" ", "-")
            out.add(f"{slug}-{seen[slug]}" if slug in seen else slug)
            seen[slug] = seen.get(slug, 0) + 1
    return out


def link_problems(doc: Path, text: str) -> list[str]:
    problems = []
    outside = re.sub(r"`[^`]+`", "", split_doc(text)[1])
    for target in LINK.findall(outside):
        if re.match(r"^[a-z]+:", target):
            continue
        path, _, anchor = target.partition("#")
        file = (doc.parent / path).resolve() if path else doc
        if not file.exists():
            problems.append(f"{doc.name}: link to missing {target}")
        elif anchor and anchor not in slugs(file.read_text(encoding="utf-8")):
            problems.append(f"{doc.name}: no heading for #{anchor} in {file.name}")
    return problems


@dataclass(frozen=True)
class Schema:
    keys: frozenset[str]  # every dotted key over all options of every group
    roots: frozenset[str]
    groups: dict[str, frozenset[str]]


def dotted_keys(node: DictConfig, prefix: str = "", leaves_only: bool = False) -> set[str]:
    """Dotted keys without resolving anything; free-form dicts (task.hub.columns) are not entered."""
    out = set()
    for key in node.keys():
        child, name = node._get_node(key), f"{prefix}{key}"
        nested = isinstance(child, DictConfig) and not child._is_none() and not child._is_interpolation()
        structured = nested and child._metadata.object_type not in (None, dict)
        if not (leaves_only and structured):
            out.add(name)
        if structured or (nested and not leaves_only):
            out |= dotted_keys(child, name + ".", leaves_only)
    return out


@pytest.fixture(scope="module")
def schema() -> Schema:
    """Every option of every group composed at least once: composition i takes option i of each group."""
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        loader = GlobalHydra.instance().config_loader()
        names = [p.name for p in Path(CONFIG_DIR).iterdir() if p.is_dir() and p.name != "hydra"]
        groups = {g: frozenset(loader.get_group_options(g)) for g in [*names, *HYDRA_GROUPS]}
    # Experiments choose their own sweeper: each is composed alone, the other groups with blurb_optuna.
    varied = {g: sorted(o) for g, o in groups.items() if g not in ("hydra/sweeper", "experiment")}
    keys = dotted_keys(composed(()))
    for i in range(max(len(o) for o in varied.values())):
        picks = [f"{g}={o[i % len(o)]}" for g, o in varied.items()]
        keys |= dotted_keys(composed(("hydra/sweeper=blurb_optuna", *picks)))
    for option in groups["experiment"]:
        keys |= dotted_keys(composed((f"experiment={option}",)))
    return Schema(frozenset(keys), frozenset(composed(()).keys()), groups)


def option_problems(doc: str, text: str, schema: Schema) -> list[str]:
    """Option names, group options and repository paths in inline code that do not exist."""
    problems = []
    for line, word in mentioned(text):
        name = match[1] if (match := DOTTED.match(word)) else ""
        if name and name.split(".")[0] in schema.roots and name.removesuffix(".*") not in schema.keys:
            problems.append(f"{doc}:{line}: option {name} is not in the config")
        group = GROUP_OPTION.match(word)
        if group and group[1] in schema.groups:
            problems += [
                f"{doc}:{line}: {group[1]} has no option {option}"
                for option in group[2].split(",")
                if option not in schema.groups[group[1]]
            ]
        if REPO_PATH.match(word) and word.rstrip("/") not in BUILD_ONLY_PATHS and not list(REPO.glob(word)):
            problems.append(f"{doc}:{line}: no file {word}")
    return problems


def long_lines(doc: str, text: str) -> list[str]:
    """Lines over MAX_LINE characters that are not rows of a table whose body cells are mostly numbers."""
    problems, lines = [], text.splitlines()
    for number, line in ((n, x) for n, x in enumerate(lines, 1) if len(x) > MAX_LINE):
        start = end = number - 1
        while start > 0 and lines[start - 1].startswith("|"):
            start -= 1
        while end + 1 < len(lines) and lines[end + 1].startswith("|"):
            end += 1
        cells = [c for row in lines[start + 2 : end + 1] for c in row.strip("|").split("|") if c.strip()]
        numeric = sum(bool(re.search(r"\d", c)) for c in cells)
        if not line.startswith("|") or numeric * 2 < len(cells):
            problems.append(f"{doc}:{number}: {len(line)} characters")
    return problems


COMMANDS = [c for doc in DOCS for c in extract_commands(doc.name, doc.read_text(encoding="utf-8"))]


@pytest.mark.parametrize("command", COMMANDS, ids=[f"{c.doc}:{c.line}" for c in COMMANDS])
def test_documented_command(command: Command) -> None:
    assert command_problem(command) is None, f"{command.doc}:{command.line}: {command.text}: {command_problem(command)}"


@pytest.mark.parametrize("doc", DOCS, ids=[d.name for d in DOCS])
def test_links_options_and_line_lengths(doc: Path, schema: Schema) -> None:
    text = doc.read_text(encoding="utf-8")
    problems = link_problems(doc, text) + option_problems(doc.name, text, schema) + long_lines(doc.name, text)
    assert not problems, "\n".join(problems)


def undocumented_keys(config_md: str) -> list[str]:
    """Keys outside hydra missing from docs/configuration.md (given as text); our launchers' and
    sweeper's keys missing from every doc."""
    names = {re.split("[=:]", w)[0] for d in DOCS for _, w in mentioned(d.read_text(encoding="utf-8"))}
    in_config = {re.split("[=:]", w)[0] for _, w in mentioned(config_md)}
    wildcards = tuple(n[:-1] for n in in_config if n.endswith(".*"))
    leaves = dotted_keys(composed(()), leaves_only=True)
    missing = [k for k in leaves if not k.startswith("hydra") and k not in in_config and not k.startswith(wildcards)]
    ours: list[str] = []
    for yaml in Path(CONFIG_DIR, "hydra", "launcher").glob("*.yaml"):
        ours += [f"hydra.launcher.{k}" for k in OmegaConf.load(yaml) if k != "defaults"]
    for name in ("blurb_optuna", "blurb_grid"):
        sweeper: Any = composed((f"hydra/sweeper={name}",)).hydra.sweeper
        ours += [f"hydra.sweeper.{k}" for k in sweeper if not k.startswith("_")]
    return sorted(missing + [k for k in ours if k not in names])


def test_every_config_key_is_documented() -> None:
    missing = undocumented_keys((REPO / "docs" / "configuration.md").read_text(encoding="utf-8"))
    assert not missing, f"undocumented keys: {missing}"


def test_a_renamed_option_fails(schema: Schema) -> None:
    """The checks catch a renamed key or option: in prose, in a command, in the key list, in an anchor."""
    assert sum(c.error is not None for c in COMMANDS) >= 10 and any(MAKE.match(c.text) for c in COMMANDS)
    text = (REPO / "docs" / "configuration.md").read_text(encoding="utf-8")
    option, preset = "`data.cv_folds`", "`strategy=reinit_top "
    assert option in text and preset in text
    renamed = text.replace(option, "`data.cv_fold`").replace(preset, "`strategy=reinit_topp ")
    problems = "\n".join(option_problems("configuration.md", renamed, schema))
    assert "option data.cv_fold is not in the config" in problems
    assert "strategy has no option reinit_topp" in problems
    assert "data.cv_folds" in undocumented_keys(renamed)
    command = Command("x.md", 1, "python -m blurb_lab task=biosses -m data.cv_fold=5 seed=1,2")
    assert "Key 'cv_fold' not in 'DataConfig'" in str(command_problem(command))
    assert "no heading for #nope" in " ".join(link_problems(REPO / "README.md", "[x](docs/errors.md#nope)"))
