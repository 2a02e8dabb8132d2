from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from people.models import Category
from testing.models import POOL_SIZES, CallOutcome, ExemptionReason, HomeReason, HomeStatus, ResultValue


class RoundForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=50, initial="第四轮")
    area = forms.IntegerField(label=_("Territory"), widget=forms.Select)
    starts_at = forms.DateTimeField(label=_("Starts at"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    deadline_at = forms.DateTimeField(
        label=_("Deadline"),
        required=False,
        help_text=_("Empty: 24 hours after the start."),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    pool_size = forms.TypedChoiceField(
        label=_("Pooling"),
        coerce=int,
        initial=10,
        choices=[(n, _("Single tube") if n == 1 else _("%(n)s in 1") % {"n": n}) for n in POOL_SIZES],
    )
    categories = forms.MultipleChoiceField(
        label=_("Population"),
        required=False,
        choices=Category.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("None ticked: everybody living in the territory."),
    )
    laboratory = forms.IntegerField(label=_("Laboratory"), required=False, widget=forms.Select)


class SiteForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    location = forms.CharField(label=_("Location"), max_length=200)
    grid = forms.IntegerField(label=_("Grid"), widget=forms.Select)
    hours = forms.CharField(label=_("Opening hours"), max_length=100, required=False, initial="07:00–19:00")
    laboratory = forms.IntegerField(label=_("Laboratory"), required=False, widget=forms.Select)


class UploadForm(forms.Form):
    file = forms.FileField(label=_("Results file (.csv or .xlsx)"))


class CallForm(forms.Form):
    outcome = forms.ChoiceField(label=_("Outcome"), choices=CallOutcome.choices)
    note = forms.CharField(label=_("Note"), max_length=300, required=False)


class ExemptForm(forms.Form):
    reason = forms.ChoiceField(label=_("Reason"), choices=ExemptionReason.choices)
    proof = forms.CharField(label=_("Proof"), max_length=200, required=False)


class HomeRequestForm(forms.Form):
    reason = forms.ChoiceField(label=_("Reason"), choices=HomeReason.choices)


class HomeCloseForm(forms.Form):
    outcome = forms.ChoiceField(
        label=_("Outcome"), choices=[(c, label) for c, label in HomeStatus.choices if c != HomeStatus.PENDING]
    )
    barcode = forms.CharField(label=_("Tube barcode"), max_length=40, required=False)
    note = forms.CharField(label=_("Note"), max_length=200, required=False)


class CorrectionForm(forms.Form):
    barcode = forms.CharField(label=_("Tube barcode"), max_length=40)
    new_value = forms.ChoiceField(label=_("Correct result"), choices=ResultValue.choices)
    reason = forms.CharField(label=_("Reason"), max_length=500)


class ExceptionResolveForm(forms.Form):
    barcode = forms.CharField(label=_("Apply to tube barcode"), max_length=40, required=False)
    note = forms.CharField(label=_("Note"), max_length=500, required=False)


class StaffForm(forms.Form):
    user = forms.IntegerField(label=_("Person to add"), widget=forms.Select)


class TeamForm(forms.Form):
    name = forms.CharField(label=_("Team name"), max_length=100)
    area = forms.IntegerField(label=_("Works in"), widget=forms.Select)


class TeamMoveForm(forms.Form):
    to_team = forms.IntegerField(label=_("Move to team"), widget=forms.Select)
    everything = forms.BooleanField(label=_("All its visits to make"), required=False)


class LedgerUnmaskForm(forms.Form):
    format = forms.ChoiceField(label=_("Format"), choices=[("xlsx", "Excel (.xlsx)"), ("csv", "CSV")], initial="xlsx")
    reason = forms.CharField(label=_("Reason for the unmasked export"), max_length=500)


class DeadlineForm(forms.Form):
    deadline_at = forms.DateTimeField(
        label=_("New deadline"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    reason = forms.CharField(
        label=_("Reason"), max_length=300, error_messages={"required": _("Say why the deadline changes.")}
    )


class AssignForm(forms.Form):
    team = forms.IntegerField(label=_("Team"))
