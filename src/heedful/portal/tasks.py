"""The portal's background work: sending sign-in emails out of the request."""

from huey.contrib.djhuey import db_task

from heedful.portal.auth import Pending, deliver_sign_in


@db_task(retries=2, retry_delay=30)
def send_sign_in_email(email: str, token: str, code: str) -> bool:
    # In the worker, so the request that asked answers in the same time whether or
    # not the address is a customer's (no account enumeration by timing).
    return deliver_sign_in(Pending(email=email, token=token, code=code))
