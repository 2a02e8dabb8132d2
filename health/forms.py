from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from health.models import Colour, ManualReason


class StatusChangeForm(forms.Form):
    id_numbers = forms.CharField(
        label=_("ID numbers"),
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("One ID number per line (or separated by commas)."),
        max_length=200_000,
    )
    colour = forms.ChoiceField(label=_("New colour"), choices=Colour.choices)
    reason_code = forms.ChoiceField(label=_("Reason"), choices=ManualReason.choices)
    note = forms.CharField(
        label=_("Evidence"),
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=4000,
        help_text=_("Case number, report or link that justifies the change."),
    )

    def id_number_list(self) -> list[str]:
        raw = self.cleaned_data["id_numbers"].replace(",", "\n").replace("，", "\n")
        return [line.strip() for line in raw.splitlines() if line.strip()]


class RulesForm(forms.Form):
    positive_single_colour = forms.ChoiceField(label=_("Positive single-tube result"), choices=Colour.choices)
    pool_recheck_colour = forms.ChoiceField(label=_("Positive pool awaiting recheck"), choices=Colour.choices)
    companion_colour = forms.ChoiceField(label=_("Space-time companion"), choices=Colour.choices)
    companion_clear_tests = forms.IntegerField(
        label=_("Negative tests that clear a companion"), min_value=1, max_value=10
    )
    companion_clear_gap_hours = forms.IntegerField(
        label=_("Hours between those tests, at least"), min_value=0, max_value=240
    )
    companion_clear_window_hours = forms.IntegerField(label=_("Within hours"), min_value=1, max_value=720)
    overdue_hours = forms.IntegerField(
        label=_("Overdue-test marker after hours (empty: none)"), min_value=1, max_value=720, required=False
    )
    note = forms.CharField(label=_("Why this change"), max_length=2000)

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        gap, window = data.get("companion_clear_gap_hours"), data.get("companion_clear_window_hours")
        if isinstance(gap, int) and isinstance(window, int) and window < gap:
            raise forms.ValidationError(_("The window must be at least the gap between tests."))
        return data
