import pytest
from django import forms

from leads.templatetags.leads_extras import fast_field, phone


class Sample(forms.Form):
    one = forms.ChoiceField(choices=[("", "—"), ("a", "A & B"), ("b", "<b>")], required=False)
    many = forms.MultipleChoiceField(choices=[("x", "X"), ("y", "Y")], required=False)
    text = forms.CharField(required=False)


def test_fast_field_renders_selects_with_the_chosen_values_escaped():
    form = Sample({"one": "b", "many": ["x", "y"], "text": "hi"})
    one = fast_field(form["one"])
    assert '<option value="b" selected>&lt;b&gt;</option>' in one
    assert "A &amp; B" in one and 'name="one"' in one and 'id="id_one"' in one
    many = fast_field(form["many"])
    assert " multiple" in many and many.count(" selected") == 2
    assert 'value="hi"' in fast_field(form["text"])  # other widgets render as usual


@pytest.mark.parametrize(("raw", "shown"), [("+79161234567", "+7 916 123-45-67"), ("", ""), (None, "")])
def test_phones_are_shown_grouped(raw, shown):
    assert phone(raw) == shown
