"""What a survey says: the admin's wording for the language, else English, else the defaults."""

from heedful.surveys.defaults import DEFAULT_WORDING, FALLBACK_LANGUAGE, Wording
from heedful.surveys.models import SurveyQuestion


def wording_for(kind: str, language: str) -> Wording:
    rows = {
        row.language: row
        for row in SurveyQuestion.objects.filter(
            kind=kind, language__in=[language or FALLBACK_LANGUAGE, FALLBACK_LANGUAGE]
        )
    }
    row = rows.get(language) or rows.get(FALLBACK_LANGUAGE)
    if row is None:
        return DEFAULT_WORDING[kind]
    return Wording(
        question=row.question,
        low_label=row.low_label,
        high_label=row.high_label,
        follow_up=row.follow_up,
        thank_you=row.thank_you,
    )
