"""`heedful rebuild-search-index`: every search index from the stored text.

Run after restoring a backup made by other means than `heedful backup`, after a
bulk import that wrote rows directly, or after an upgrade whose notes ask for it.
On SQLite it empties and refills the FTS5 tables (minutes at millions of
messages); on PostgreSQL the indexes are always current and it only compacts them.
"""

import time
from typing import Any

from django.core.management.base import BaseCommand
from django.db import connection, transaction

from heedful.search.backends import rebuild_index


class Command(BaseCommand):
    help = "Rebuild the search indexes of messages, subjects and articles."

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.monotonic()
        with transaction.atomic():
            rebuild_index()
        took = time.monotonic() - started
        self.stdout.write(f"Search index rebuilt on {connection.vendor} in {took:.1f} s.")
