from django import forms


class LicenseApplyForm(forms.Form):
    """A pasted license token; all checking is `license_apply`'s."""

    token = forms.CharField(
        label="License token",
        strip=True,
        widget=forms.Textarea(
            attrs={
                "rows": 6,
                "cols": 80,
                "spellcheck": "false",
                "autocomplete": "off",
                "placeholder": "eyJhbGciOiJFZERTQSIs…",
            }
        ),
        error_messages={"required": "Paste the license token you received from the vendor."},
    )
