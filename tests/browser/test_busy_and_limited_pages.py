"""In a real browser: the answer a patient gets when their link is over its budget (429) is the
patient page's frame, in their language, accessible, and says to wait."""
from __future__ import annotations

from sqlalchemy import select

from referralnet.extensions import limiter
from referralnet.referrals import patient_links
from referralnet.referrals.models import Referral, Status


def test_a_patient_over_the_links_budget_is_told_to_wait(page, axe, demo, db, app, monkeypatch):
    referral = db.session.scalar(select(Referral).where(Referral.status == Status.REQUESTED.value)
                                 .order_by(Referral.id).limit(1))
    token = patient_links.token_for(referral)
    limiter.reset()
    monkeypatch.setitem(app.config, "STATUS_RATE_LIMIT", "1 per minute")
    try:
        assert page.goto(f"/s/{token}?lang=es").status == 200
        response = page.goto(f"/s/{token}/print?lang=es")
        assert response.status == 429 and response.headers["retry-after"].isdigit()
        assert "Demasiados intentos. Espere un minuto" in page.content()
        assert "Sign out" not in page.content() and "Go to the home page" not in page.content()
        axe(page)
    finally:
        limiter.reset()
