"""WTForms renders fields with referralnet.forms.fast_html_params: exactly what WTForms' own would write."""
import pytest
from flask_babel import lazy_gettext
from markupsafe import Markup
from wtforms import BooleanField, Form, SelectField, StringField, SubmitField
from wtforms.fields import SelectChoice
import wtforms.widgets
from wtforms.widgets.core import Button, Input

from referralnet.forms import WTFORMS_HTML_PARAMS, MultiCheckboxField, fast_html_params

VALUES = ["plain", 'say "hi" & <b>bye</b>', "it's", Markup('<i>kept</i> "quoted"'), 7, 2.5, None, "", True, False,
          "ünïcödé · “quotes”"]


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_every_kind_of_value_is_written_as_wtforms_writes_it(value):
    attributes = {"id": "f-1", "class_": "wide", "data_map_items": value, "aria_describedby": value, "value": value,
                  "for_": "x", "required": True, "disabled": False}
    assert fast_html_params(**attributes) == WTFORMS_HTML_PARAMS(**attributes)
    assert isinstance(fast_html_params(**attributes), Markup)
    assert fast_html_params() == WTFORMS_HTML_PARAMS() == Markup("")


def test_lazy_strings_are_written_as_wtforms_writes_them(app):
    with app.test_request_context("/"):
        label = lazy_gettext("Open now")
        assert fast_html_params(title=label, value=label) == WTFORMS_HTML_PARAMS(title=label, value=label)


def test_the_app_renders_fields_with_it(app):
    assert wtforms.widgets.html_params is fast_html_params and wtforms.widgets.core.html_params is fast_html_params
    assert Input.html_params is fast_html_params and Button.html_params is fast_html_params

    class Sample(Form):
        name = StringField("Name", render_kw={"autocomplete": "name"})
        kind = SelectField("Kind", choices=[SelectChoice("a", "A & B"), SelectChoice("b", 'say "b"')], default="b")
        ok = BooleanField("OK", default=True)
        needs = MultiCheckboxField("Needs", choices=[SelectChoice("food", "Food"), SelectChoice("rent", "Rent <help>")],
                                   default=["rent"])
        go = SubmitField("Go")

    form = Sample()
    assert str(form.name(**{"aria-invalid": "true"})) == \
        '<input aria-invalid="true" autocomplete="name" id="name" name="name" type="text" value="">'
    assert str(form.kind()) == ('<select id="kind" name="kind"><option value="a">A &amp; B</option>'
                                '<option selected value="b">say &#34;b&#34;</option></select>')
    assert str(form.ok()) == '<input checked id="ok" name="ok" type="checkbox" value="y">'
    assert [str(o()) for o in form.needs] == [
        '<input id="needs-0" name="needs" type="checkbox" value="food">',
        '<input checked id="needs-1" name="needs" type="checkbox" value="rent">']
    assert [str(o.label()) for o in form.needs] == ['<label for="needs-0">Food</label>',
                                                    '<label for="needs-1">Rent &lt;help&gt;</label>']
    assert str(form.go()) == '<input id="go" name="go" type="submit" value="Go">'
    assert str(form.kind.label()) == '<label for="kind">Kind</label>'
