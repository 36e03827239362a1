from heedful.inboxes.email.adapter import EmailAdapter
from heedful.inboxes.registry import register

register(EmailAdapter())
