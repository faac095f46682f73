from __future__ import annotations

from django import forms

from projects.services import API_KEY_EXPIRY_DAYS, API_KEY_NAME_MAX, PROJECT_NAME_MAX


class ProjectNameForm(forms.Form):
    name = forms.CharField(label="Project name", max_length=PROJECT_NAME_MAX)


class ProjectDeleteForm(forms.Form):
    confirm_name = forms.CharField(label="Type the project name to confirm", strip=True)

    def __init__(self, *args: object, project_name: str, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.project_name = project_name

    def clean_confirm_name(self) -> str:
        typed: str = self.cleaned_data["confirm_name"]
        if typed != self.project_name:
            raise forms.ValidationError(
                "That is not the project's name. Type it exactly as shown to delete the project."
            )
        return typed


EXPIRY_CHOICES = [("", "Never"), *((str(days), f"In {days} days") for days in API_KEY_EXPIRY_DAYS)]


class ApiKeyCreateForm(forms.Form):
    name = forms.CharField(
        label="Name",
        max_length=API_KEY_NAME_MAX,
        help_text="What uses this key, e.g. “Production web app”.",
    )
    expires_in_days = forms.TypedChoiceField(
        label="Expires",
        choices=EXPIRY_CHOICES,
        coerce=int,
        empty_value=None,
        required=False,
    )
