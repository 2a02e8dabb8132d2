from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from venues.models import ADDRESS_MAX, NAME_MAX, FlagOutcome, VenueCategory


class VenueApplyForm(forms.Form):
    category = forms.ChoiceField(label=_("Category"), choices=VenueCategory.choices)
    name = forms.CharField(label=_("Venue name"), max_length=NAME_MAX)
    address = forms.CharField(label=_("Address"), max_length=ADDRESS_MAX)
    grid = forms.TypedChoiceField(label=_("Grid"), coerce=int)
    contact_name = forms.CharField(label=_("Contact person"), max_length=30)
    contact_phone = forms.RegexField(label=_("Contact phone"), regex=r"^1\d{10}$", max_length=11)
    entrances = forms.CharField(
        label=_("Entrances"),
        max_length=200,
        initial="正门",
        help_text=_("One name per entrance, separated by commas; each gets its own code."),
    )
    latitude = forms.DecimalField(
        label=_("Latitude"), required=False, max_digits=9, decimal_places=6, min_value=-90, max_value=90
    )
    longitude = forms.DecimalField(
        label=_("Longitude"), required=False, max_digits=9, decimal_places=6, min_value=-180, max_value=180
    )
    shop = forms.IntegerField(required=False, widget=forms.HiddenInput)
    committed = forms.BooleanField(
        label=_(
            "I promise that the information is true, that the code will be posted at every entrance, "
            "and that everyone entering will be asked to scan it (本人承诺)."
        ),
    )

    def __init__(self, *args: Any, grids: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        grid = self.fields["grid"]
        assert isinstance(grid, forms.TypedChoiceField)
        grid.choices = [(g.pk, g.name) for g in grids]

    def entrance_names(self) -> tuple[str, ...]:
        raw = self.cleaned_data.get("entrances") or ""
        return tuple(n.strip() for n in raw.replace("，", ",").split(",") if n.strip())


class ReviewForm(forms.Form):
    decision = forms.ChoiceField(choices=[("approve", _("Approve")), ("reject", _("Reject"))])
    note = forms.CharField(label=_("Note"), max_length=200, required=False)


class EntranceForm(forms.Form):
    name = forms.CharField(label=_("Entrance name"), max_length=30)


class SentinelForm(forms.Form):
    entrance = forms.TypedChoiceField(label=_("Entrance"), coerce=int)
    code = forms.CharField(label=_("Health code or ID number"), max_length=200)
    client_key = forms.RegexField(regex=r"^[A-Za-z0-9_-]{8,64}$", widget=forms.HiddenInput)

    def __init__(self, *args: Any, entrances: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        entrance = self.fields["entrance"]
        assert isinstance(entrance, forms.TypedChoiceField)
        entrance.choices = [(e.pk, e.name) for e in entrances]


class CompanionForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=50)
    id_number = forms.CharField(label=_("ID number"), max_length=30)


class FlagReviewForm(forms.Form):
    outcome = forms.ChoiceField(label=_("Outcome"), choices=FlagOutcome.choices, widget=forms.RadioSelect)
    note = forms.CharField(label=_("Note"), max_length=200, required=False)


class ShopForm(forms.Form):
    """The census form a grid worker fills in on a phone at the shop's door."""

    grid = forms.TypedChoiceField(label=_("Grid"), coerce=int)
    name = forms.CharField(label=_("Shop name"), max_length=NAME_MAX)
    category = forms.ChoiceField(label=_("Category"), choices=VenueCategory.choices)
    address = forms.CharField(label=_("Address"), max_length=ADDRESS_MAX)
    contact_phone = forms.CharField(
        label=_("Contact phone"),
        max_length=20,
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "off"}),
    )

    def __init__(self, *args: Any, grids: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        grid = self.fields["grid"]
        assert isinstance(grid, forms.TypedChoiceField)
        grid.choices = [(g.pk, g.name) for g in grids]


class ShopImportForm(forms.Form):
    file = forms.FileField(label=_("Shop roster (.xlsx or .csv)"))
