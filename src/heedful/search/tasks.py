"""Background work of the search index."""

from huey.contrib.djhuey import db_task


@db_task()
def reindex_article(article_id: int) -> None:
    """Bring one article's translations up to date in the article index."""
    from heedful.search import articles

    articles.reindex(article_id)
