"""The command line in one language: what click and typer print around duban's own help texts, in Chinese.

typer keeps its panel titles and markers as module settings (typer.rich_utils), which are set here; the
usage line and the --help option's text come from click, so duban's commands and groups are built from the
two classes below (`Typer` uses them for every command it declares).
"""

from __future__ import annotations

from functools import partial
from typing import Any

import typer
from typer import rich_utils
from typer.core import TyperCommand, TyperGroup

rich_utils.ARGUMENTS_PANEL_TITLE = "参数"
rich_utils.OPTIONS_PANEL_TITLE = "选项"
rich_utils.COMMANDS_PANEL_TITLE = "命令"
rich_utils.ERRORS_PANEL_TITLE = "错误"
rich_utils.REQUIRED_LONG_STRING = "[必填]"
rich_utils.DEFAULT_STRING = "[默认：{}]"
rich_utils.ENVVAR_STRING = "[环境变量：{}]"
rich_utils.DEPRECATED_STRING = "（已停用）"
rich_utils.ABORTED_TEXT = "已取消。"
rich_utils.RICH_HELP = "运行 [blue]'{command_path} {help_option}'[/] 查看帮助。"

_USAGE = (("Usage:", "用法："), ("[OPTIONS]", "[选项]"), ("COMMAND [ARGS]...", "命令 [参数]..."))
_TYPES = {
    "<int>": "<数字>",
    "<int range>": "<数字>",
    "<float>": "<数字>",
    "<str>": "<文字>",
    "<file>": "<文件>",
    "<path>": "<路径>",
    "<bool>": "",
}  # a flag takes no value: nothing to show


def _shown(word: str, ctx: Any) -> str:  # typer passes ctx by name
    return word


class _Chinese:
    """Mixed into typer's command and group classes (typer carries its own copy of click's classes)."""

    def get_usage(self, ctx: Any) -> str:
        usage: str = super().get_usage(ctx)  # type: ignore[misc]
        for english, chinese in _USAGE:
            usage = usage.replace(english, chinese, 1)
        return usage

    def get_params(self, ctx: Any) -> Any:
        params = super().get_params(ctx)  # type: ignore[misc]
        for param in params:
            shown = param.display_type_rich(ctx)
            if param.param_type_name == "option" and param.metavar is None:
                param.metavar = _TYPES.get(shown, shown)
            elif param.param_type_name == "argument":  # typer shows an argument's type whatever its metavar
                param.display_type_rich = partial(_shown, _TYPES.get(shown, shown))
        return params

    def get_help_option(self, ctx: Any) -> Any:
        option = super().get_help_option(ctx)  # type: ignore[misc]
        if option is not None:
            option.help, option.metavar = "显示本帮助并退出。", ""  # a flag: no value type to show
        return option


class ChineseCommand(_Chinese, TyperCommand):
    pass


class ChineseGroup(_Chinese, TyperGroup):
    pass


class Typer(typer.Typer):
    """typer.Typer whose groups and commands print typer's and click's own words in Chinese."""

    def __init__(self, **options: Any) -> None:
        super().__init__(cls=ChineseGroup, **options)

    def command(self, *args: Any, **options: Any) -> Any:
        options.setdefault("cls", ChineseCommand)
        return super().command(*args, **options)
