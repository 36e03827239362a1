"""`heedful demo`: load realistic multi-channel support histories (see heedful.demo)."""

from datetime import UTC, datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from heedful.demo.generator import load_demo, start_of_today


def _moment(value: str) -> datetime:
    if value == "now":
        return datetime.now(UTC).replace(microsecond=0)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"--until: {value!r} is not an ISO date or time") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class Command(BaseCommand):
    help = (
        "Load demo data: customers who write on several channels, conversations with "
        "replies, notes, statuses, tags, and the events, facts and search index the "
        "services would have written. Appends to what is there."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--customers", type=int, default=150)
        parser.add_argument("--conversations", type=int, default=400)
        parser.add_argument("--days", type=int, default=90, help="How far back the history goes.")
        parser.add_argument("--seed", type=int, default=1, help="Same seed, same demo.")
        parser.add_argument(
            "--until",
            type=_moment,
            default=None,
            help="Where the history ends (ISO time or 'now'); default: start of today, UTC.",
        )
        bulk = parser.add_mutually_exclusive_group()
        bulk.add_argument(
            "--bulk",
            dest="bulk",
            action="store_true",
            default=None,
            help="Drop and rebuild indexes around the load (automatic for large loads).",
        )
        bulk.add_argument("--no-bulk", dest="bulk", action="store_false")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["customers"] < 0 or options["conversations"] < 0:
            raise CommandError("--customers and --conversations cannot be negative")
        if options["conversations"] and not options["customers"]:
            raise CommandError("conversations need at least one customer (--customers)")
        if options["days"] < 1:
            raise CommandError("--days must be at least 1")
        until = options.get("until") or start_of_today()
        if isinstance(until, str):  # call_command passes option values as they are
            until = _moment(until)
        quiet = options.get("verbosity", 1) < 1
        write = (lambda _text: None) if quiet else (lambda text: self.stdout.write(text))
        summary = load_demo(
            customers=options["customers"],
            conversations=options["conversations"],
            days=options["days"],
            seed=options["seed"],
            until=until,
            bulk=options.get("bulk"),
            progress=write,
        )
        numbers = (
            f", numbers #{summary.first_number}-#{summary.last_number}"
            if summary.first_number is not None
            else ""
        )
        portal = (
            f", the portal launch on {summary.portal_launch:%Y-%m-%d} and "
            f"{summary.insights} insight{'' if summary.insights == 1 else 's'} since"
            if summary.portal_launch
            else ""
        )
        write(
            self.style.SUCCESS(
                f"Demo loaded in {summary.seconds:.1f}s: {summary.customers:,} customers "
                f"({summary.identities:,} identities, {summary.organizations:,} organizations), "
                f"{summary.conversations:,} conversations{numbers}, {summary.messages:,} "
                f"messages ({summary.inbound:,} from customers, {summary.replies:,} replies, "
                f"{summary.notes:,} notes), {summary.events:,} events, "
                f"{summary.invitations:,} surveys ({summary.responses:,} answered)"
                f"{portal}; history up to {until:%Y-%m-%d %H:%M} UTC."
            )
        )
        if summary.created:
            write(f"Created: {', '.join(summary.created)}.")
