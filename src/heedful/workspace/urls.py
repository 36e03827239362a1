from heedful.workspace.views import attachments, auth, conversation, customers, lists, notifications

app_name = "workspace"
urlpatterns = [
    *auth.urlpatterns,
    *lists.urlpatterns,
    *conversation.urlpatterns,
    *customers.urlpatterns,
    *notifications.urlpatterns,
    *attachments.urlpatterns,
]
