from tests.referrals.conftest import consent_for, make_client, make_referral, world  # noqa: F401
