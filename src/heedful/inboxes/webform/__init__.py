from heedful.inboxes.registry import register
from heedful.inboxes.webform.adapter import WebFormAdapter

register(WebFormAdapter())
