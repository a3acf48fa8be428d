"""Where IntentOps' own data files are: templates, policies, examples, the lock and the helper scripts.

In a checkout they sit at its top level (`templates/`, `policies/`, `requirements.lock`, ...). A built wheel
carries them inside the `pipeline` package, under `pipeline/_shipped/` (setup.py copies them there), so
`pip install intentops` finds them without a checkout. The stage kit installs `templates/` beside the
package (site-packages/templates), which is the checkout layout again. The first place holding the file
wins.
"""

from __future__ import annotations

from pathlib import Path

SHIPPED_DIR = "_shipped"
SHIPPED = (
    "templates",
    "policies",
    "monitors",
    "examples",
    "schemas",
    "requirements.lock",
    "scripts/docker.sh",
    "scripts/wheelhouse.sh",
)
"""What a wheel carries under pipeline/_shipped/, named as in the checkout (setup.py reads this tuple)."""
HERE = Path(__file__).resolve().parent
PLACES = (HERE / SHIPPED_DIR, HERE.parent)
"""Inside the installed package first, then beside it (a checkout, or site-packages for the stage kit)."""
MISSING = (
    "IntentOps' data file {name} is missing (looked in: {places}); reinstall IntentOps from its wheel, or "
    "run it from a complete checkout"
)


class ResourceMissing(FileNotFoundError):
    """A data file IntentOps ships is not where it should be: the installation is incomplete."""


def resource(name: str) -> Path:
    """The shipped file or folder `name` (a path as in the checkout, e.g. `templates/spec`)."""
    for place in PLACES:
        candidate = place / name
        if candidate.exists():
            return candidate
    raise ResourceMissing(MISSING.format(name=name, places=", ".join(str(p) for p in PLACES)))


def resource_path(name: str) -> Path:
    """Where `name` is, or where it would be in a checkout: for constants computed at import time, which
    must not fail before the file is used (`resource` says clearly what is missing when it is)."""
    try:
        return resource(name)
    except ResourceMissing:
        return PLACES[-1] / name
