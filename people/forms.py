from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from people.models import Category


class PersonForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=50)
    id_number = forms.CharField(label=_("ID number"), max_length=30)
    phone = forms.CharField(label=_("Mobile number"), max_length=20, required=False)
    category = forms.ChoiceField(label=_("Category"), choices=Category.choices, initial=Category.RESIDENT)
    vaccine_doses = forms.IntegerField(label=_("Vaccine doses"), min_value=0, max_value=10, initial=0)
    is_elderly_alone = forms.BooleanField(label=_("Elderly living alone"), required=False)
    is_mobility_impaired = forms.BooleanField(label=_("Limited mobility (home sampling)"), required=False)
    has_no_smartphone = forms.BooleanField(label=_("No smartphone"), required=False)


class RevealForm(forms.Form):
    field = forms.ChoiceField(choices=[("id_number", _("ID number")), ("phone", _("Phone"))])
    reason = forms.CharField(label=_("Reason"), max_length=500)


class SearchForm(forms.Form):
    q = forms.CharField(label=_("Search"), max_length=50, required=False)
    area = forms.IntegerField(required=False, widget=forms.HiddenInput)


class RosterImportForm(forms.Form):
    file = forms.FileField(label=_("Roster file (.xlsx)"))
    area = forms.IntegerField(required=False, widget=forms.HiddenInput)


class ExportForm(forms.Form):
    format = forms.ChoiceField(label=_("Format"), choices=[("xlsx", "Excel (.xlsx)"), ("csv", "CSV")], initial="xlsx")
    area = forms.IntegerField(required=False, widget=forms.HiddenInput)
    unmasked = forms.BooleanField(label=_("Unmasked (full names, ID numbers and phones)"), required=False)
    reason = forms.CharField(label=_("Reason for the unmasked export"), max_length=500, required=False)
