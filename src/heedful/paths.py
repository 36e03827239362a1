"""Where Heedful keeps its files (database, secret key, media, backups).

Kept apart from settings so the command-line entry point can find the data
directory before Django is configured.
"""

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
_SOURCE_ROOT = PACKAGE_DIR.parent.parent


def project_root() -> Path:
    """The checkout when running from source, else the working directory."""
    if (_SOURCE_ROOT / "pyproject.toml").exists():
        return _SOURCE_ROOT
    return Path.cwd()


def data_dir() -> Path:
    configured = os.environ.get("HEEDFUL_DATA_DIR")
    path = Path(configured) if configured else project_root() / "var"
    path.mkdir(parents=True, exist_ok=True)
    return path
