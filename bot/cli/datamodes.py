"""The start-up check of long-running commands (`up`, `demo`, `bot serve`, `worker`, `forge serve`,
`registry serve`): a data directory others could read is made private, one warning line per path fixed."""

from __future__ import annotations

from pathlib import Path

from rich.markup import escape

from bot.cli.output import err
from pipeline.state.private import secure_data_dir

WARNING = "warning: {line}"


def check_data_dir(root: Path) -> None:
    """Fix the modes of `root`'s secret files and folders (see pipeline.state.private), saying so."""
    for fix in secure_data_dir(root):
        err.print(escape(WARNING.format(line=fix.line())))
