"""Every dashboard setting does something: a variable that is read nowhere misleads whoever sets it."""

from __future__ import annotations

from bot.settings import Settings
from tests.conftest import ROOT


def test_every_dashboard_setting_is_read() -> None:
    code = "\n".join(
        path.read_text(encoding="utf-8")
        for path in (ROOT / "bot").rglob("*.py")
        if path.name != "settings.py"
    )
    fields = [name for name in Settings.model_fields if name.startswith("dashboard_")]
    assert fields, "the dashboard's settings are named dashboard_*"
    unread = [name for name in fields if f".{name}" not in code]
    assert unread == [], f"settings no code reads: {unread}"
