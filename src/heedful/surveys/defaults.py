"""The wording each survey kind starts with; admins edit it per language in the admin.

The scales come from insights.metrics, where the formulas that read the scores live.
"""

from dataclasses import dataclass

from heedful.insights.metrics import CES_SCALE, CSAT_SCALE, NPS_SCALE

FALLBACK_LANGUAGE = "en"
FOLLOW_UP = "What is the main reason for your score?"
THANK_YOU = "Thank you for your feedback."


@dataclass(frozen=True)
class Wording:
    question: str
    low_label: str
    high_label: str
    follow_up: str = FOLLOW_UP
    thank_you: str = THANK_YOU


DEFAULT_WORDING: dict[str, Wording] = {
    "csat": Wording(
        question="How satisfied are you with the service you received?",
        low_label="Very unsatisfied",
        high_label="Very satisfied",
    ),
    "ces": Wording(
        question="How easy was it to resolve your issue?",
        low_label="Very difficult",
        high_label="Very easy",
    ),
    "nps": Wording(
        question="How likely are you to recommend us to a friend or colleague?",
        low_label="Not at all likely",
        high_label="Extremely likely",
    ),
}

SCALES: dict[str, tuple[int, int]] = {"csat": CSAT_SCALE, "ces": CES_SCALE, "nps": NPS_SCALE}

# The subject line of the survey email; deliberately without the conversation's
# subject or number, so it neither threads into the conversation nor tells a
# reader of the inbox what it was about.
SUBJECTS: dict[str, str] = {
    "csat": "How did we do?",
    "ces": "Was it easy to get help?",
    "nps": "Would you recommend us?",
}


def scale(kind: str) -> range:
    low, high = SCALES[kind]
    return range(low, high + 1)
