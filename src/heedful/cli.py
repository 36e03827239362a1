"""The `heedful` console command: every Django management command, plus ours."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "heedful.settings")
    from django.core.management import execute_from_command_line

    # Heedful's documented commands are spelled with hyphens (`heedful ingest-email`);
    # Django's command modules cannot be.
    if len(sys.argv) > 1 and not sys.argv[1].startswith("-"):
        sys.argv[1] = sys.argv[1].replace("-", "_")
    if sys.argv[1:2] == ["worker"]:
        # Before settings load: a worker's SQLite connections need no 64 MiB cache each.
        os.environ.setdefault("HEEDFUL_SQLITE_CACHE_MIB", "16")
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
