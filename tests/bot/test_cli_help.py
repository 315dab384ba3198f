"""`duban --help` and every subcommand's help speak one language to the people who run it: Chinese."""

from __future__ import annotations

import re
from importlib.metadata import version

import click
import typer
from typer.testing import CliRunner

from bot.cli import app

runner = CliRunner()
# Names a Chinese help text rightly writes in Latin letters: products, formats, settings, examples.
NAMES = {
    "duban",
    "YAML",
    "Excel",
    "Word",
    "TODO",
    "userid",
    "staffId",
    "sqlite",
    "var",
    "postgresql",
    "UTF",
    "DUBAN_HOST",
    "DUBAN_PORT",
    "DUBAN_CAMPAIGN",
    "apply",
    "unit",
    "xlsx",
    "docx",
    "pdf",
    "ofd",
    "PDF",
    "OFD",
    "GB18030",
    "zip",
}


def command_paths(command: click.Command, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [path]
    for name, sub in getattr(command, "commands", {}).items():
        found.extend(command_paths(sub, (*path, name)))
    return found


def english(text: str, commands: set[str]) -> list[str]:
    text = re.sub(r"(?<![\w])--?[a-z][\w-]*", "", text)  # option names
    words = re.findall(r"[A-Za-z][A-Za-z_-]*[A-Za-z]", text)
    return [word for word in words if len(word) > 2 and word not in NAMES | commands]


def test_every_help_page_is_in_chinese() -> None:
    paths = command_paths(typer.main.get_command(app))
    assert {("export", "bulletin"), ("import", "issues"), ("import", "contacts")} <= set(paths)
    commands = {name for path in paths for name in path}  # `duban plan load` is typed as it is
    for path in paths:
        result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "200"}, prog_name="duban")
        assert result.exit_code == 0, (path, result.output)
        assert result.output.lstrip().startswith("用法：") and "显示本帮助并退出。" in result.output
        assert english(result.output, commands) == [], (path, result.output)


def test_version() -> None:
    for flag in ("--version", "-V"):
        result = runner.invoke(app, [flag])
        assert result.exit_code == 0 and result.output == f"督办 duban {version('duban')}\n"
