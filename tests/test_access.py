"""conversations.access and the URLs behind it: each test proves the others see nothing."""

import uuid

import pytest
from django.contrib import admin
from django.contrib.auth.models import AnonymousUser
from django.http import Http404
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.urls.converters import IntConverter, UUIDConverter

from heedful.accounts.models import Role
from heedful.conversations.access import (
    can_see,
    get_attachment_for,
    get_conversation_for,
    visible_filter,
)
from heedful.conversations.inbound import InboundAttachment
from heedful.conversations.models import Attachment, Conversation
from heedful.conversations.services import receive
from heedful.workspace.views.auth import PUBLIC_NAMES
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(cast):
    """One conversation per queue: team A's, team B's and the unteamed shared inbox."""
    return {
        "a": cast.conversation_a(),
        "b": cast.conversation_b(),
        "shared": receive(
            cast.inbound(inbox=cast.email, address="three@customer.test")
        ).conversation,
    }


def visible(user) -> set[int]:
    return set(Conversation.objects.filter(visible_filter(user)).values_list("pk", flat=True))


def ids(world, *names: str) -> set[int]:
    return {world[n].pk for n in names}


# --- the rule ----------------------------------------------------------------------


def test_an_agent_sees_their_teams_and_unteamed_conversations_only(cast, world):
    assert visible(cast.agent_a) == ids(world, "a", "shared")
    assert visible(cast.agent_b) == ids(world, "b", "shared")
    assert visible(AnonymousUser()) == set()


def test_a_lead_sees_their_teams_conversations_not_other_teams(cast, world):
    assert visible(cast.lead_a) == ids(world, "a", "shared")
    assert world["a"].pk not in visible(cast.agent_b)


def test_an_admin_sees_every_conversation(cast, world):
    assert visible(cast.admin) == ids(world, "a", "b", "shared")
    assert visible(cast.agent_a) == ids(world, "a", "shared")
    assert visible(cast.agent_b) == ids(world, "b", "shared")


def test_an_agent_with_no_team_sees_only_the_shared_queue(cast, world):
    loner = UserFactory(email="loner@heedful.test")
    assert visible(loner) == ids(world, "shared")
    assert visible(cast.agent_a) == ids(world, "a", "shared")


def test_an_agent_sees_a_conversation_assigned_to_them(cast, world):
    Conversation.objects.filter(pk=world["b"].pk).update(assignee=cast.agent_a)
    assert visible(cast.agent_a) == ids(world, "a", "b", "shared")
    assert visible(cast.lead_a) == ids(world, "a", "shared")


def test_a_deactivated_user_sees_nothing(cast, world):
    for user in (cast.agent_a, cast.admin):
        user.is_active = False
        user.save()
        assert visible(user) == set()
        with pytest.raises(Http404):
            get_conversation_for(user, world["shared"].pk)
    assert visible(cast.agent_b) == ids(world, "b", "shared")


def test_a_list_and_a_detail_agree(cast, world):
    for user in (cast.admin, cast.lead_a, cast.agent_a, cast.agent_b, AnonymousUser()):
        listed = set(Conversation.objects.visible_to(user).values_list("pk", flat=True))
        for conversation in world.values():
            assert can_see(user, conversation) == (conversation.pk in listed)


def test_get_conversation_for_raises_404_for_another_teams_conversation(cast, world):
    assert get_conversation_for(cast.agent_a, world["a"].pk) == world["a"]
    with pytest.raises(Http404):
        get_conversation_for(cast.agent_a, world["b"].pk)
    with pytest.raises(Http404):
        get_conversation_for(cast.agent_b, world["a"].pk)
    with pytest.raises(Http404):
        get_conversation_for(AnonymousUser(), world["a"].pk)


@pytest.mark.parametrize("pk", [999_999, "abc", None])
def test_get_conversation_for_answers_404_for_nonsense(cast, world, pk):
    with pytest.raises(Http404):
        get_conversation_for(cast.admin, pk)


# --- attachments ---------------------------------------------------------------------


@pytest.fixture
def files(cast, media_root):
    def with_file(inbox, address, name, content):
        result = receive(
            cast.inbound(
                inbox=inbox,
                address=address,
                attachments=(InboundAttachment(name, "text/html", content),),
            )
        )
        return Attachment.objects.get(message=result.message)

    return {
        "a": with_file(
            cast.inbox_a, "one@customer.test", "invoice.html", b"<script>alert(1)</script>"
        ),
        "b": with_file(cast.inbox_b, "two@customer.test", "contract.pdf", b"%PDF secret"),
    }


def test_get_attachment_for_follows_the_conversation_rule(cast, files):
    assert get_attachment_for(cast.agent_a, files["a"].pk) == files["a"]
    assert get_attachment_for(cast.admin, files["b"].pk) == files["b"]
    with pytest.raises(Http404):
        get_attachment_for(cast.agent_a, files["b"].pk)
    with pytest.raises(Http404):
        get_attachment_for(cast.agent_b, files["a"].pk)
    with pytest.raises(Http404):
        get_attachment_for(AnonymousUser(), files["a"].pk)


def test_an_agent_downloads_their_teams_attachment_safely(cast, files, client):
    client.force_login(cast.agent_a)
    response = client.get(f"/app/attachments/{files['a'].pk}/")

    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    assert 'filename="invoice.html"' in response["Content-Disposition"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Type"] == "application/octet-stream"
    assert b"".join(response.streaming_content) == b"<script>alert(1)</script>"
    response.close()


def test_an_agent_of_another_team_gets_404_for_the_attachment(cast, files, client):
    client.force_login(cast.agent_b)
    assert client.get(f"/app/attachments/{files['a'].pk}/").status_code == 404
    response = client.get(f"/app/attachments/{files['b'].pk}/")
    assert response.status_code == 200
    response.close()


def test_an_anonymous_visitor_is_sent_to_login_for_an_attachment(files, client):
    response = client.get(f"/app/attachments/{files['a'].pk}/")
    assert response.status_code == 302
    assert response["Location"].startswith("/app/login/")


def test_a_missing_attachment_is_404_even_for_an_admin(cast, files, client):
    client.force_login(cast.admin)
    assert client.get("/app/attachments/999999/").status_code == 404


# --- whole URL spaces ----------------------------------------------------------------------


SAMPLE_ARGUMENTS = {IntConverter: 1, UUIDConverter: uuid.UUID(int=1)}


def _sample_path(pattern: URLPattern, namespace: str) -> str:
    converters = pattern.pattern.converters.items()
    kwargs = {name: SAMPLE_ARGUMENTS.get(type(c), "x") for name, c in converters}
    return reverse(f"{namespace}:{pattern.name}", kwargs=kwargs)


def workspace_paths() -> list[str]:
    (resolver,) = [
        p
        for p in get_resolver().url_patterns
        if isinstance(p, URLResolver) and p.namespace == "workspace"
    ]
    return [
        _sample_path(p, "workspace")
        for p in resolver.url_patterns
        if isinstance(p, URLPattern) and p.name not in PUBLIC_NAMES
    ]


def test_only_sign_in_pages_are_public(client):
    (resolver,) = [
        p
        for p in get_resolver().url_patterns
        if isinstance(p, URLResolver) and p.namespace == "workspace"
    ]
    assert all(isinstance(p, URLPattern) for p in resolver.url_patterns)  # nothing nested
    names = {p.name for p in resolver.url_patterns}
    assert names >= PUBLIC_NAMES
    assert client.get("/app/login/").status_code == 200
    assert client.get("/app/password-reset/").status_code == 200


def admin_paths() -> list[str]:
    paths = ["/admin/", "/admin/password_change/"]
    for model in admin.site._registry:
        opts = model._meta
        base = f"/admin/{opts.app_label}/{opts.model_name}/"
        paths += [
            f"/admin/{opts.app_label}/",
            base,
            f"{base}add/",
            f"{base}1/change/",
            f"{base}1/delete/",
        ]
    return sorted(set(paths))


def test_an_anonymous_visitor_reaches_no_workspace_page(cast, files, client):
    paths = workspace_paths()
    assert paths  # the workspace has pages to protect
    for path in paths:
        response = client.get(path)
        assert response.status_code == 302, path
        assert response["Location"].startswith("/app/login/"), path


def test_an_anonymous_visitor_reaches_no_admin_page(cast, client):
    for path in admin_paths():
        response = client.get(path)
        assert response.status_code == 302, path
        assert response["Location"].startswith("/admin/login/"), path


@pytest.mark.parametrize("role_holder", ["agent_a", "lead_a"])
def test_agents_and_leads_are_refused_the_admin(cast, client, role_holder):
    client.force_login(getattr(cast, role_holder))
    for path in admin_paths():
        response = client.get(path)
        assert response.status_code == 302, path
        assert response["Location"].startswith("/admin/login/"), path


def test_an_admin_reaches_the_admin(cast, client):
    client.force_login(cast.admin)
    assert client.get("/admin/").status_code == 200


def test_only_admins_are_staff_whatever_is_saved(cast):
    agent = UserFactory(email="sneaky@heedful.test", role=Role.AGENT, is_staff=True)
    agent.refresh_from_db()
    assert agent.is_staff is False
    assert (cast.admin.is_staff, cast.lead_a.is_staff, cast.agent_a.is_staff) == (
        True,
        False,
        False,
    )


def test_an_attachment_whose_file_is_gone_is_404_not_500(cast, files, client):
    files["a"].file.storage.delete(files["a"].file.name)
    client.force_login(cast.admin)
    assert client.get(f"/app/attachments/{files['a'].pk}/").status_code == 404


def test_a_team_with_conversations_cannot_be_deleted_into_the_shared_queue(cast, world):
    from django.db.models import ProtectedError

    with pytest.raises(ProtectedError):
        cast.team_b.delete()
    assert ids(world, "b") - visible(cast.agent_a) == ids(world, "b")


def test_the_rule_read_backwards_names_exactly_who_can_see(cast):
    from heedful.accounts.models import User
    from heedful.conversations.access import can_see, viewers_filter
    from heedful.conversations.services import assign

    unrouted = receive(cast.inbound(inbox=cast.webform)).conversation
    routed = cast.conversation_a()
    handed = cast.conversation_b()
    assign(conversation=handed, agent=cast.agent_b, actor=cast.admin)
    inactive = User.objects.create_user(email="gone@heedful.test", password=None)
    inactive.is_active = False
    inactive.save()
    for conversation in (unrouted, routed, handed):
        viewers = set(
            User.objects.filter(viewers_filter(conversation))
            .distinct()
            .values_list("pk", flat=True)
        )
        expected = {u.pk for u in User.objects.all() if can_see(u, conversation)}
        assert viewers == expected, conversation
