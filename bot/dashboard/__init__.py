"""The approval dashboard: the queue, intent details, one-click approvals, services and analytics."""

from bot.dashboard.app import MOUNT_PATH, SEED_PORT, create_dashboard_app, mount_dashboard
from bot.dashboard.context import DashboardContext, RepoForToken, forge_context
from bot.dashboard.sessions import DashboardConfigError

__all__ = [
    "MOUNT_PATH",
    "SEED_PORT",
    "DashboardConfigError",
    "DashboardContext",
    "RepoForToken",
    "create_dashboard_app",
    "forge_context",
    "mount_dashboard",
]
