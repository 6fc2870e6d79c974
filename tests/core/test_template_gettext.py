"""The templates' gettext (referralnet.i18n): the request's translations are remembered, yet a change of
locale within the request (use_locale, force_locale) is followed, and the messages behave as Jinja's
newstyle gettext does (escaped, %-formatted)."""
from flask import render_template_string
from flask_babel import force_locale

from referralnet.i18n import use_locale


def test_translates_in_the_request_locale_and_follows_changes(app):
    template = "{{ _('Open now') }}|{{ gettext('Closed') }}"
    with app.test_request_context("/"):
        assert render_template_string(template) == "Open now|Closed"
        use_locale("es")
        assert render_template_string(template) == "Abierto ahora|Cerrada"
        with force_locale("en"):
            assert render_template_string(template) == "Open now|Closed"
        assert render_template_string(template) == "Abierto ahora|Cerrada"
        use_locale("en")
        assert render_template_string(template) == "Open now|Closed"
    with app.test_request_context("/"):  # nothing carried over to the next request
        assert render_template_string(template) == "Open now|Closed"


def test_messages_are_escaped_and_formatted_like_jinja_newstyle_gettext(app):
    with app.test_request_context("/"):
        html = render_template_string("{{ _('Matched: %(reasons)s', reasons='<b>food</b>') }}")
        assert html == "Matched: &lt;b&gt;food&lt;/b&gt;"
        assert render_template_string("{{ _('100%% sure') }}") == "100% sure"
        plural = "{{ ngettext('%(num)s entry', '%(num)s entries', n) }}"
        assert render_template_string(plural, n=1) == "1 entry"
        assert render_template_string(plural, n=3) == "3 entries"
        assert render_template_string("{% trans n=2 %}{{ n }} apple{% pluralize %}{{ n }} apples{% endtrans %}",
                                      ) == "2 apples"
        # Outside autoescaping (plain-text messages) nothing is escaped.
        assert app.jinja_env.from_string("{% autoescape false %}{{ _('a <%(x)s>', x='&') }}{% endautoescape %}"
                                         ).render() == "a <&>"
