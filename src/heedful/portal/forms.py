from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from email_validator import EmailNotValidError, validate_email


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    widget = MultipleFileInput

    def clean(self, data, initial=None):
        files = data if isinstance(data, list | tuple) else ([data] if data else [])
        return [super(MultipleFileField, self).clean(f, initial) for f in files]


class ContactForm(forms.Form):
    name = forms.CharField(max_length=200)
    email = forms.CharField(max_length=254, label="Email address")
    subject = forms.CharField(max_length=200)
    message = forms.CharField(widget=forms.Textarea(attrs={"rows": 8}), max_length=20000)
    attachments = MultipleFileField(required=False)
    # Generated when the form is shown; a double click posts the same value twice.
    submission_id = forms.CharField(widget=forms.HiddenInput, max_length=64)

    def clean_email(self) -> str:
        value = self.cleaned_data["email"].strip()
        try:
            # No DNS lookups at run time: syntax only.
            return validate_email(value, check_deliverability=False).normalized
        except EmailNotValidError as exc:
            raise ValidationError(f"Please enter a valid email address ({exc}).") from exc

    def clean_name(self) -> str:
        value = " ".join(self.cleaned_data["name"].split())
        if "<" in value or ">" in value:
            raise ValidationError("Please enter your name without < or > characters.")
        return value

    def clean_subject(self) -> str:
        return " ".join(self.cleaned_data["subject"].split())

    def clean_message(self) -> str:
        value = self.cleaned_data["message"].replace("\x00", "")
        if not value.strip():
            raise ValidationError("Please tell us how we can help.")
        return value

    def clean_submission_id(self) -> str:
        value = self.cleaned_data["submission_id"]
        if not value.replace("-", "").isalnum():
            raise ValidationError("The form was damaged; please reload the page.")
        return value

    def clean_attachments(self) -> list:
        files = self.cleaned_data.get("attachments") or []
        limit = settings.HEEDFUL_MAX_ATTACHMENTS
        if len(files) > limit:
            raise ValidationError(f"Please attach at most {limit} files.")
        max_bytes = settings.HEEDFUL_MAX_ATTACHMENT_BYTES
        for f in files:
            if f.size > max_bytes:
                raise ValidationError(
                    f"{f.name} is {f.size / 1048576:.1f} MB; each file may be at most "
                    f"{max_bytes / 1048576:.0f} MB."
                )
        return files
