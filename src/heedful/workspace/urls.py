from heedful.workspace.views import (
    attachments,
    auth,
    conversation,
    customers,
    help_insights,
    insight_feed,
    insights,
    knowledge,
    lists,
    notifications,
    search,
)

app_name = "workspace"
urlpatterns = [
    *auth.urlpatterns,
    *lists.urlpatterns,
    *conversation.urlpatterns,
    *customers.urlpatterns,
    *notifications.urlpatterns,
    *attachments.urlpatterns,
    *insights.urlpatterns,
    *insight_feed.urlpatterns,
    *knowledge.urlpatterns,
    *search.urlpatterns,
    *help_insights.urlpatterns,
]
