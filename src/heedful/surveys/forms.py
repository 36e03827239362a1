from django import forms

from heedful.surveys.defaults import scale

COMMENT_MAX = 2000


class AnswerForm(forms.Form):
    """The score (from the invitation's scale) and the optional follow-up comment."""

    score = forms.TypedChoiceField(
        coerce=int,
        choices=[],
        error_messages={
            "required": "Choose a score.",
            "invalid_choice": "Choose a score from the scale.",
        },
    )
    comment = forms.CharField(
        required=False,
        max_length=COMMENT_MAX,
        widget=forms.Textarea(attrs={"rows": 4, "maxlength": COMMENT_MAX}),
        error_messages={"max_length": f"Please keep it under {COMMENT_MAX} characters."},
    )
    done = forms.BooleanField(required=False)

    def __init__(self, *args: object, kind: str, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        field = self.fields["score"]
        assert isinstance(field, forms.TypedChoiceField)
        field.choices = [(str(n), str(n)) for n in scale(kind)]
