"""The knowledge base: articles in categories and sections, their translations and
revisions, and what help-center visitors did with them (sessions and events, from
which deflection is computed in `knowledge.deflection`).

An article is one idea with a stable id; its words live in one ArticleTranslation per
language. Every save of a translation writes an ArticleRevision, so "who changed
what" is a list of rows. Markdown is the source; `body_html` is the rendered,
nh3-sanitized copy and `body_text` the plain text the search index reads.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q


class Category(models.Model):
    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=140, unique=True, allow_unicode=True)
    description = models.CharField(max_length=300, blank=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "name"]
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return self.name


class Section(models.Model):
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="sections")
    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=140, allow_unicode=True)
    description = models.CharField(max_length=300, blank=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "name"]
        constraints = [
            models.UniqueConstraint(fields=["category", "slug"], name="knowledge_section_slug")
        ]

    def __str__(self) -> str:
        return f"{self.category} / {self.name}"


class ArticleStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    PUBLISHED = "published", "Published"
    ARCHIVED = "archived", "Archived"


class Visibility(models.TextChoices):
    PUBLIC = "public", "Public (help center)"
    INTERNAL = "internal", "Internal (agents only)"


class ArticleQuerySet(models.QuerySet["Article"]):
    def public(self) -> "ArticleQuerySet":
        """What the help center and customers may read: published and public."""
        return self.filter(status=ArticleStatus.PUBLISHED, visibility=Visibility.PUBLIC)

    def for_agents(self) -> "ArticleQuerySet":
        """What agents look up while answering: published, public or internal."""
        return self.filter(status=ArticleStatus.PUBLISHED)


class Article(models.Model):
    section = models.ForeignKey(
        Section, null=True, blank=True, on_delete=models.SET_NULL, related_name="articles"
    )
    status = models.CharField(
        max_length=10, choices=ArticleStatus.choices, default=ArticleStatus.DRAFT
    )
    visibility = models.CharField(
        max_length=10, choices=Visibility.choices, default=Visibility.PUBLIC
    )
    # The language every article has; translations add others.
    default_language = models.CharField(max_length=16, default="en")
    position = models.PositiveSmallIntegerField(default=0)
    # Shown as "popular" on the help-center home when nothing has been viewed yet.
    promoted = models.BooleanField(default=False)
    related: "models.ManyToManyField[Article, Article]" = models.ManyToManyField(
        "self", blank=True, symmetrical=True
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    published_at = models.DateTimeField(null=True, blank=True)

    objects = ArticleQuerySet.as_manager()

    class Meta:
        ordering = ["position", "id"]
        indexes = [models.Index(fields=["status", "visibility"], name="knowledge_article_state")]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=ArticleStatus.values), name="knowledge_article_status"
            ),
            models.CheckConstraint(
                condition=Q(visibility__in=Visibility.values), name="knowledge_article_visibility"
            ),
        ]

    def __str__(self) -> str:
        return f"Article {self.pk}"

    @property
    def is_public(self) -> bool:
        return self.status == ArticleStatus.PUBLISHED and self.visibility == Visibility.PUBLIC


class ArticleTranslation(models.Model):
    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="translations")
    language = models.CharField(max_length=16)
    title = models.CharField(max_length=200)
    slug = models.SlugField(max_length=200, allow_unicode=True)
    body_markdown = models.TextField(blank=True)
    body_html = models.TextField(blank=True, help_text="Rendered from Markdown, sanitized.")
    body_text = models.TextField(blank=True, help_text="Plain text, for search.")
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["article", "language"], name="knowledge_translation")
        ]

    def __str__(self) -> str:
        return self.title


class ArticleRevision(models.Model):
    """One saved version of a translation: who, when, and what it said."""

    translation = models.ForeignKey(
        ArticleTranslation, on_delete=models.CASCADE, related_name="revisions"
    )
    title = models.CharField(max_length=200)
    body_markdown = models.TextField(blank=True)
    status = models.CharField(max_length=10, choices=ArticleStatus.choices)
    visibility = models.CharField(max_length=10, choices=Visibility.choices)
    editor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["translation", "-created_at"], name="knowledge_rev_by_tr")]

    def __str__(self) -> str:
        return f"Revision {self.pk} of {self.translation_id}"


def article_file_path(instance: "ArticleAttachment", filename: str) -> str:
    return f"knowledge/{instance.article_id}/{instance.sha256[:16]}"


class ArticleAttachment(models.Model):
    """A file or image an article links to. Readable by whoever may read the article."""

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(upload_to=article_file_path, max_length=255)
    filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100, default="application/octet-stream")
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.filename


class ArticleFeedback(models.Model):
    """A "Was this helpful?" answer. One per help session and article (a later vote in
    the same session changes it)."""

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="feedback")
    language = models.CharField(max_length=16)
    helpful = models.BooleanField()
    comment = models.TextField(blank=True)
    session = models.ForeignKey(
        "HelpSession", null=True, blank=True, on_delete=models.SET_NULL, related_name="votes"
    )
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["article", "session"],
                condition=Q(session__isnull=False),
                name="knowledge_feedback_once",
            )
        ]
        indexes = [models.Index(fields=["article", "created_at"], name="knowledge_fb_by_article")]

    def __str__(self) -> str:
        return f"{'yes' if self.helpful else 'no'} on {self.article_id}"


class HelpSession(models.Model):
    """One visit to the help center or portal: a random first-party cookie, no IP
    address, no third party. A visit ends after HEEDFUL_HELP_SESSION_MINUTES idle.

    `visitor` is a second random cookie that outlives sessions, so a contact from the
    same browser a day later is still "the same visitor"; `customer` is set when the
    visitor signs in to the portal (never from a contact form's typed address)."""

    key = models.CharField(max_length=64, unique=True)
    visitor = models.CharField(max_length=64, db_index=True)
    customer = models.ForeignKey(
        "customers.Customer", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    started_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    # The first moment the visit met content (an article or suggestions), from which
    # the deflection windows run; NULL while it has only browsed lists or searched.
    engaged_at = models.DateTimeField(null=True, blank=True)
    # Settled by knowledge.deflection.settle: the first new conversation by the same
    # visitor or customer within 7 days of engaged_at (NULL: none), and when that
    # answer became final (NULL while the window, plus a margin, is still open).
    followed_at = models.DateTimeField(null=True, blank=True)
    settled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["started_at"], name="knowledge_session_started"),
            models.Index(fields=["customer", "started_at"], name="knowledge_session_customer"),
            # The reports' sessions by start with their outcome, read without the rows.
            models.Index(
                fields=["started_at", "engaged_at", "followed_at"],
                name="knowledge_session_outcome",
            ),
            # The sessions settle() still has to look at: few, whatever the table's size.
            models.Index(
                fields=["started_at"],
                condition=Q(settled_at__isnull=True, engaged_at__isnull=False),
                name="knowledge_session_unsettled",
            ),
        ]

    def __str__(self) -> str:
        return f"Help session {self.pk}"


class HelpEventKind(models.TextChoices):
    SEARCH = "search", "Searched"
    VIEW = "view", "Viewed an article"
    SUGGESTIONS_SHOWN = "suggested", "Was shown suggestions while writing a request"
    SUGGESTION_CLICKED = "suggestion_click", "Opened a suggested article"
    VOTE = "vote", "Voted on an article"
    CONTACT = "contact", "Sent a request"


class HelpEvent(models.Model):
    session = models.ForeignKey(HelpSession, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=20, choices=HelpEventKind.choices)
    article = models.ForeignKey(
        Article, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Searches: what was typed (normalized: lower case, single spaces) and how many hits.
    query = models.CharField(max_length=200, blank=True)
    results = models.IntegerField(null=True, blank=True)
    # Suggestions shown: the article ids, in order.
    articles = models.JSONField(default=list, blank=True)
    # A contact: the conversation it opened.
    conversation = models.ForeignKey(
        "conversations.Conversation",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["kind", "created_at"], name="knowledge_event_kind"),
            models.Index(fields=["article", "kind"], name="knowledge_event_article"),
            models.Index(fields=["session", "created_at"], name="knowledge_event_session"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=HelpEventKind.values), name="knowledge_event_kind_valid"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} in {self.session_id}"
