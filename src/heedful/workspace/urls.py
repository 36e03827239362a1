from heedful.workspace.views import (
    attachments,
    auth,
    conversation,
    customers,
    insight_feed,
    insights,
    lists,
    notifications,
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
]
