"""Demo customers, their organizations and identities on several channels.

Addresses carry the customer's id, so a second demo run appends new people
instead of colliding with the first run's addresses. They are written exactly
as `customers.identities.normalize` would store them.
"""

import random
from bisect import bisect
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any

from heedful.demo import texts

# Identity kinds, as bits of a customer's mask.
EMAIL, PHONE, CHAT, WHATSAPP, SOCIAL = 1, 2, 4, 8, 16
KIND_BITS = {"email": EMAIL, "phone": PHONE, "chat": CHAT, "whatsapp": WHATSAPP, "social": SOCIAL}
AREA_CODES = ("212", "415", "312", "617", "206", "303", "512", "646", "213", "305")

Row = tuple[Any, ...]


@dataclass
class People:
    """What conversations need to know about each customer, by position."""

    first_customer_id: int
    first_names: list[str] = field(default_factory=list)
    full_names: list[str] = field(default_factory=list)
    masks: bytearray = field(default_factory=bytearray)
    # identity kind -> identity id per customer position (0: none of that kind)
    identities: dict[str, list[int]] = field(default_factory=dict)
    cumulative_weights: list[float] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.first_names)

    def pick(self, rng: random.Random) -> int:
        """A customer position; a few customers write far more often than most."""
        total = self.cumulative_weights[-1]
        return bisect(self.cumulative_weights, rng.random() * total)


@dataclass
class PeopleRows:
    organizations: list[Row]
    customers: list[Row]
    identities: list[Row]


def make_people(
    *,
    count: int,
    seed: int,
    first_customer_id: int,
    first_identity_id: int,
    first_organization_id: int,
    created_at: str,
    chunk_size: int,
    timestamp: Callable[[int], str],
    window: tuple[int, int],
) -> tuple[People, Iterator[PeopleRows]]:
    """The customers' summary at once, and their rows in chunks to write as they come."""
    rng = random.Random(f"heedful-demo:{seed}:people")
    people = People(first_customer_id=first_customer_id)
    for kind in KIND_BITS:
        people.identities[kind] = [0] * count
    organization_count = max(1, count // 25)
    organizations = [
        _organization(rng, first_organization_id + i) for i in range(organization_count)
    ]
    weights = [min(rng.paretovariate(1.3), 40.0) for _ in range(count)]
    people.cumulative_weights = list(accumulate(weights))
    state = _IdState(first_identity_id)

    def chunks() -> Iterator[PeopleRows]:
        org_rows = [
            (oid, name, domain, "", False, created_at) for oid, name, domain in organizations
        ]
        for start in range(0, count, chunk_size):
            rows = PeopleRows(org_rows, [], [])
            org_rows = []
            for position in range(start, min(count, start + chunk_size)):
                _customer(rng, people, position, organizations, state, rows, timestamp, window)
            yield rows

    return people, chunks()


@dataclass
class _IdState:
    next_identity_id: int


def _organization(rng: random.Random, oid: int) -> tuple[int, str, str]:
    word = rng.choice(texts.ORGANIZATION_WORDS)
    suffix = rng.choice(texts.ORGANIZATION_SUFFIXES)
    return oid, f"{word} {suffix}", f"{word}-{suffix}-{oid}.example".lower()


def _customer(
    rng: random.Random,
    people: People,
    position: int,
    organizations: list[tuple[int, str, str]],
    state: _IdState,
    rows: PeopleRows,
    timestamp: Callable[[int], str],
    window: tuple[int, int],
) -> None:
    cid = people.first_customer_id + position
    first, last = rng.choice(texts.FIRST_NAMES), rng.choice(texts.LAST_NAMES)
    organization = rng.choice(organizations) if rng.random() < 0.35 else None
    # A placeholder; the load moves it to the customer's first conversation.
    created = timestamp(window[0] - rng.randrange(86400, 400 * 86400))
    mask = _mask(rng)
    people.first_names.append(first)
    people.full_names.append(f"{first} {last}")
    people.masks.append(mask)
    preferred = ""
    if rng.random() < 0.3:
        preferred = rng.choice([k for k, bit in KIND_BITS.items() if mask & bit and k != "social"])
    rows.customers.append(
        (
            cid,
            f"{first} {last}",
            preferred,
            "en",
            rng.choice(texts.TIME_ZONES) if rng.random() < 0.5 else "",
            rng.choice(texts.CUSTOMER_NOTES) if rng.random() < 0.04 else "",
            created,
            created,
            None,
            organization[0] if organization else None,
        )
    )
    phone = _phone(cid, 0)
    addresses = {
        "email": f"{first}.{last}{cid}@"
        + (organization[2] if organization else rng.choice(texts.EMAIL_DOMAINS)),
        "phone": phone,
        "chat": f"visitor-{cid}-{rng.getrandbits(32):08x}",
        "whatsapp": phone if mask & PHONE and rng.random() < 0.7 else _phone(cid, 1),
        "social": f"{rng.choice(texts.SOCIAL_NETWORKS)}:{first}{last}{cid}",
    }
    for kind, bit in KIND_BITS.items():
        if not mask & bit:
            continue
        iid = state.next_identity_id
        state.next_identity_id += 1
        people.identities[kind][position] = iid
        verified = kind in ("phone", "whatsapp") or (kind == "email" and rng.random() < 0.5)
        rows.identities.append((iid, kind, addresses[kind].lower(), int(verified), created, cid))


def _mask(rng: random.Random) -> int:
    mask = 0
    for bit, share in ((EMAIL, 0.9), (PHONE, 0.55), (CHAT, 0.45), (WHATSAPP, 0.3), (SOCIAL, 0.15)):
        if rng.random() < share:
            mask |= bit
    # Everyone can be reached on at least one channel with an inbox.
    return mask if mask & (EMAIL | PHONE | CHAT | WHATSAPP) else mask | EMAIL


def _phone(cid: int, line: int) -> str:
    """A distinct, well-formed North American number per customer and line."""
    # 7919 is prime to 8,000,000, so distinct ids give distinct numbers; a second
    # line uses another area code.
    area = AREA_CODES[(cid // 8_000_000 + line * 5) % len(AREA_CODES)]
    subscriber = cid * 7919 % 8_000_000
    exchange = 200 + subscriber // 10_000  # exchanges never start with 0 or 1
    return f"+1{area}{exchange:03d}{subscriber % 10_000:04d}"
