"""Where the generated services' wheelhouse is, wherever the command runs from.

The sandbox installs a service's test requirements offline, from the wheelhouse set-up prepared. It is
looked for, in order: the folder given (`--wheelhouse`), the configured data directory's (when
INTENTOPS_DATA_DIR is set), the current directory's `.data/wheelhouse`, and the wheelhouse of the IntentOps
checkout this code runs from (`make demo` and `make test` prepare that one). The first prepared one wins.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pipeline.wheelhouse import STAMP, WheelhouseError

WHEELHOUSE = "wheelhouse"
VENVS = "venvs"
CHECKOUT_DATA = Path(__file__).resolve().parents[2] / ".data"
"""The data directory of the checkout this IntentOps runs from."""
NOT_FOUND = (
    "no prepared wheelhouse (looked in: {places}); run ./scripts/wheelhouse.sh in the IntentOps checkout "
    "(it needs the network once), or give one with --wheelhouse"
)


@dataclass(frozen=True)
class Wheelhouse:
    """A prepared wheelhouse and where venvs built from it are cached (beside it)."""

    path: Path

    @property
    def venv_cache(self) -> Path:
        return self.path.parent / VENVS


def candidates(*, explicit: Path | None, data_dir: Path | None, cwd: Path) -> list[Path]:
    """The places looked in, in order, each once."""
    places = [explicit] if explicit is not None else []
    if data_dir is not None:
        places.append(data_dir / WHEELHOUSE)
    places += [cwd / ".data" / WHEELHOUSE, CHECKOUT_DATA / WHEELHOUSE]
    unique: list[Path] = []
    for place in places:
        if place.absolute() not in [p.absolute() for p in unique]:
            unique.append(place)
    return unique


def locate_wheelhouse(
    *, explicit: Path | None = None, data_dir: Path | None = None, cwd: Path | None = None
) -> Wheelhouse:
    """The first prepared wheelhouse; WheelhouseError naming every place looked in when there is none.

    `explicit` (a folder the user named) must itself be prepared: it is never passed over silently."""
    places = candidates(explicit=explicit, data_dir=data_dir, cwd=cwd or Path.cwd())
    if explicit is not None and not (explicit / STAMP).is_file():
        raise WheelhouseError(NOT_FOUND.format(places=explicit))
    for place in places:
        if (place / STAMP).is_file():
            return Wheelhouse(place.absolute())
    raise WheelhouseError(NOT_FOUND.format(places=", ".join(str(p) for p in places)))
