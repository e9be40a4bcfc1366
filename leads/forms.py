"""Browser forms. They validate with the same rules as the API (the
normalisers in leads.contacts) and call the same actions."""

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.urls import reverse_lazy
from django.utils.translation import gettext_lazy as _

from leads.contacts import normalize_email, normalize_phone
from leads.models import Lead, Product, Source
from revops.models import User
from revops.roles import Role

NURTURE_CHECK = {
    "hx-get": reverse_lazy("leads:new-nurture-check"),
    "hx-trigger": "change, keyup changed delay:600ms",
    "hx-target": "#nurture-notice",
    "hx-include": "#id_phone, #id_email",
}


class ManualLeadForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200, required=False)
    # As a phone or email is typed, the page says whether that person has a lead
    # in nurture, which saving brings back (leads.nurture_views.lead_new_check).
    phone = forms.CharField(
        label=_("Phone"), max_length=40, required=False, widget=forms.TextInput(attrs=NURTURE_CHECK)
    )
    email = forms.CharField(
        label=_("Email"), max_length=254, required=False, widget=forms.TextInput(attrs=NURTURE_CHECK)
    )
    company = forms.CharField(label=_("Company"), max_length=200, required=False)
    source = forms.ModelChoiceField(
        label=_("Source"),
        queryset=Source.objects.filter(is_active=True),
        empty_label=settings.EMPTY_CHOICE_LABEL,
    )
    product = forms.ModelChoiceField(
        label=_("Product"),
        queryset=Product.objects.filter(is_active=True),
        required=False,
        empty_label=settings.EMPTY_CHOICE_LABEL,
    )
    comment = forms.CharField(
        label=_("What the client said"),
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=5000,
        required=False,
    )
    owner = forms.ModelChoiceField(
        label=_("Owner"),
        queryset=User.objects.none(),
        required=False,
        empty_label=_("By the distribution rules"),
    )
    consent = forms.BooleanField(label=_("The client agreed to the processing of personal data"))

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        if user.role == Role.REP:
            # A rep's own entry is the rep's lead.
            del self.fields["owner"]
        else:
            members = User.objects.filter(is_active=True, role__in=[Role.REP, Role.SALES_HEAD])
            if user.role == Role.SALES_HEAD:
                members = members.filter(team_id=user.team_id)
            else:
                members = members.exclude(team=None)
            self.fields["owner"].queryset = members.order_by("first_name", "username")

    def clean_phone(self):
        return normalize_phone(self.cleaned_data["phone"])

    def clean_email(self):
        return normalize_email(self.cleaned_data["email"])

    def clean(self):
        data = super().clean()
        if (
            not data.get("phone")
            and not data.get("email")
            and not self.errors.get("phone")
            and not self.errors.get("email")
        ):
            raise ValidationError(_("Give a phone number or an email address."))
        return data

    def chosen_owner(self):
        return self.user if self.user.role == Role.REP else self.cleaned_data.get("owner")


class MergeForm(forms.Form):
    other = forms.IntegerField(
        label=_("Lead to merge into this one"), min_value=1, help_text=_("Its number, e.g. 1024.")
    )

    def __init__(self, *args, lead: Lead, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.lead, self.user = lead, user

    def clean_other(self):
        pk = self.cleaned_data["other"]
        if pk == self.lead.pk:
            raise ValidationError(_("A lead cannot be merged into itself."))
        other = Lead.objects.changeable_by(self.user).filter(pk=pk).first()
        if other is None:
            raise ValidationError(_("No lead with this number that you may change."))
        return other
