"""The nurture track editor's forms: the track, and its steps as an inline
formset (one row per step: kind, the fields of that kind, order, remove)."""

from django import forms
from django.conf import settings
from django.core.validators import MaxLengthValidator
from django.db.models import Q
from django.forms import inlineformset_factory
from django.utils.translation import gettext_lazy as _

from leads.choices import StepKind
from leads.models import NurtureReason, NurtureStep, NurtureTrack
from leads.tracks import FIELDS, template_errors
from revops.inputs import IdModelMultipleChoiceField

MAX_WAIT_DAYS = 365
MAX_STEPS = 30
# An email's text, in characters: a long letter fits; a megabyte of template does not.
MAX_BODY = 20_000


class TrackForm(forms.ModelForm):
    reasons = IdModelMultipleChoiceField(
        label=_("Nurture reasons that put a lead on this track"),
        queryset=NurtureReason.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )

    class Meta:
        model = NurtureTrack
        fields = ["name", "description", "reasons", "is_active"]
        widgets = {"description": forms.Textarea(attrs={"rows": 2})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # A reason switched off since stays on the tracks that listed it (and shown), so
        # saving a track never drops it silently; it cannot be newly added.
        listed = Q(tracks=self.instance) if self.instance.pk else Q(pk__in=[])
        self.fields["reasons"].queryset = (
            NurtureReason.objects.filter(Q(is_active=True) | listed).distinct().order_by("position", "code")
        )

    def clean(self):
        cleaned = super().clean()
        reasons, active = cleaned.get("reasons") or [], cleaned.get("is_active")
        if active and reasons:
            # Each listed reason leads to one active track, so a lead's track is never a guess.
            taken = (
                NurtureTrack.reasons.through.objects.filter(
                    nurturereason__in=reasons, nurturetrack__is_active=True
                )
                .exclude(nurturetrack_id=self.instance.pk)
                .select_related("nurturereason", "nurturetrack")
            )
            messages = [
                _("“%(reason)s” already puts leads on the active track “%(track)s”.")
                % {"reason": row.nurturereason.name, "track": row.nurturetrack.name}
                for row in taken
            ]
            if messages:
                self.add_error("reasons", messages)
        return cleaned


class StepForm(forms.ModelForm):
    class Meta:
        model = NurtureStep
        fields = ["kind", "subject", "body", "wait_days", "task_text"]
        widgets = {"body": forms.Textarea(attrs={"rows": 5})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["body"].max_length = MAX_BODY
        self.fields["body"].validators.append(MaxLengthValidator(MAX_BODY))
        self.fields["body"].widget.attrs["maxlength"] = str(MAX_BODY)
        self.fields["wait_days"].widget.attrs.update(min="1", max=str(MAX_WAIT_DAYS))
        self.fields["kind"].choices = [("", settings.EMPTY_CHOICE_LABEL), *StepKind.choices]
        self.fields["subject"].help_text = _("Fields: %(fields)s") % {
            "fields": ", ".join(f"{{{{ {name} }}}}" for name in FIELDS)
        }

    def clean(self):
        cleaned = super().clean()
        kind = cleaned.get("kind")
        if kind == StepKind.EMAIL:
            for name in ("subject", "body"):
                value = cleaned.get(name, "")
                if not value.strip():
                    self.add_error(name, _("An email needs a subject and a text."))
                else:
                    for message in template_errors(value):
                        self.add_error(name, message)
            cleaned.update(wait_days=None, task_text="")
        elif kind == StepKind.WAIT:
            days = cleaned.get("wait_days")
            if days is None or not 1 <= days <= MAX_WAIT_DAYS:
                self.add_error("wait_days", _("Wait from 1 to %(n)s days.") % {"n": MAX_WAIT_DAYS})
            cleaned.update(subject="", body="", task_text="")
        elif kind == StepKind.TASK:
            if not cleaned.get("task_text", "").strip():
                self.add_error("task_text", _("Say what the marketer should do."))
            cleaned.update(subject="", body="", wait_days=None)
        return cleaned


class BaseStepFormSet(forms.BaseInlineFormSet):
    def clean(self):
        super().clean()
        if any(self.errors) or not self.management_form.is_valid():
            return  # the rows' own errors (or a tampered form's) say enough
        if not self.ordered():
            raise forms.ValidationError(_("Add at least one step."))

    def ordered(self) -> list:
        """The kept step forms in the order the marketer gave (ties: as shown).
        An untouched empty row has no cleaned_data and is left out."""
        kept = [
            (f.cleaned_data.get("ORDER") or 0, i, f)
            for i, f in enumerate(self.forms)
            if f.cleaned_data and not f.cleaned_data.get("DELETE")
        ]
        # A row left without an order (the editor's empty row) goes last, as Django's formsets do.
        return [f for _order, _i, f in sorted(kept, key=lambda item: (item[0] == 0, item[0], item[1]))]


def step_formset(extra: int = 1):
    return inlineformset_factory(
        NurtureTrack,
        NurtureStep,
        form=StepForm,
        formset=BaseStepFormSet,
        extra=extra,
        can_delete=True,
        can_order=True,
        max_num=MAX_STEPS,
        validate_max=True,
    )
