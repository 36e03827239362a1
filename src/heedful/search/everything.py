"""The workspace's one search box: conversations, customers and articles at once.

The "all" view shows the first few of each kind with a count and a link to the
rest; a kind's own tab pages through it. Each part is its own service:
conversations (`search.conversations`), customers (`customers.search`, the
directory's own search) and articles (`search.articles`, audience "agents").
"""

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from heedful.customers.models import Customer
from heedful.customers.search import customer_rows, search_customers
from heedful.search.articles import ArticleHit, search_articles
from heedful.search.conversations import (
    ConversationResults,
    Filters,
    Sort,
    search_conversations,
)

if TYPE_CHECKING:
    from heedful.accounts.models import User

Kind = Literal["all", "conversations", "customers", "articles"]
KINDS: tuple[Kind, ...] = ("all", "conversations", "customers", "articles")
PREVIEW = 5
ARTICLES_PAGE = 20


@dataclass
class Results:
    query: str
    kind: Kind
    conversations: ConversationResults
    customers: list[Customer] = field(default_factory=list)
    more_customers: bool = False
    articles: list[ArticleHit] = field(default_factory=list)
    more_articles: bool = False


def search_everything(
    query: str,
    *,
    user: "User | Any",
    kind: Kind = "all",
    filters: Filters | None = None,
    sort: Sort = "newest",
    page: int = 1,
) -> Results:
    """What `user` may see that matches `query`; `kind` says which parts to read."""
    every = kind == "all"
    if not query.strip():
        return Results(query=query, kind=kind, conversations=ConversationResults(query=query))
    conversations = ConversationResults(query=query)
    if every or kind == "conversations":
        conversations = search_conversations(
            query,
            user=user,
            filters=filters,
            sort=sort,
            page=1 if every else page,
            per_page=PREVIEW if every else 20,
        )
    results = Results(query=query, kind=kind, conversations=conversations)
    if every or kind == "customers":
        limit = PREVIEW if every else 50
        found = search_customers(query, limit=limit + 1)
        results.customers = customer_rows(found.customer_ids[:limit], user)
        results.more_customers = len(found.customer_ids) > limit or found.next_before is not None
    if every or kind == "articles":
        limit = PREVIEW if every else ARTICLES_PAGE
        offset = 0 if every else (page - 1) * ARTICLES_PAGE
        hits = search_articles(query, audience="agents", limit=limit + 1, offset=offset)
        results.articles, results.more_articles = hits[:limit], len(hits) > limit
    return results
