"""Categories and sections are configured in the admin; articles are only listed
there, with a link to the workspace editor (every save must write a revision)."""

from typing import Any

import pytest
from django.test import Client

from heedful.knowledge import services
from heedful.knowledge.models import Category, Section

pytestmark = pytest.mark.django_db


def admin_client(cast: Any) -> Client:
    client = Client()
    client.force_login(cast.admin)
    return client


def test_a_category_and_its_sections_get_slugs_from_their_names(cast: Any) -> None:
    response = admin_client(cast).post(
        "/admin/knowledge/category/add/",
        {
            "name": "Orders & Shipping",
            "slug": "",
            "description": "Where things are",
            "position": "2",
            "sections-TOTAL_FORMS": "1",
            "sections-INITIAL_FORMS": "0",
            "sections-0-name": "Tracking a parcel",
            "sections-0-slug": "",
            "sections-0-description": "",
            "sections-0-position": "0",
        },
    )
    assert response.status_code == 302, response.content[:2000]
    category = Category.objects.get()
    assert (category.slug, category.position) == ("orders-shipping", 2)
    assert category.sections.get().slug == "tracking-a-parcel"


def test_a_name_without_letters_needs_a_slug(cast: Any) -> None:
    response = admin_client(cast).post(
        "/admin/knowledge/category/add/",
        {
            "name": "!!!",
            "slug": "",
            "position": "0",
            "sections-TOTAL_FORMS": "0",
            "sections-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 200
    assert "Give it a name or a slug" in response.content.decode()
    assert not Category.objects.exists()


def test_articles_are_listed_read_only_with_a_link_to_the_editor(cast: Any) -> None:
    article = services.create_article(actor=cast.lead_a, title="Track a parcel")
    client = admin_client(cast)
    page = client.get("/admin/knowledge/article/").content.decode()
    assert "Track a parcel" in page and f"/app/knowledge/{article.pk}/edit/" in page
    assert client.get("/admin/knowledge/article/add/").status_code == 403
    section_page = client.get("/admin/knowledge/section/")
    assert section_page.status_code == 200
    assert not Section.objects.exists()


def test_agents_cannot_reach_the_knowledge_admin(client: Any, cast: Any) -> None:
    client.force_login(cast.agent_a)
    assert client.get("/admin/knowledge/category/").status_code == 302
