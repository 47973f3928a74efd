"""What a masked person sees of a number or an address, and who is masked."""

from __future__ import annotations

import pytest

from core.auth import Actor, effective_roles
from cti.events import ScreenPopShown
from privacy.masking import mask_document, mask_email, mask_event, mask_phone
from privacy.policy import PrivacySettings, parse_settings


@pytest.mark.parametrize(("number", "shown"), [
    ("+8613800138000", "+86 138 **** 8000"),
    ("+34600123456", "+34 600 **** 3456"),
    ("+14155550123", "+1 415 **** 0123"),
    ("+3281234567", "+32 812 **** 4567"),
    ("withheld", "****"),
])
def test_a_number_keeps_its_country_first_digits_and_last_four(number: str, shown: str) -> None:
    assert mask_phone(number) == shown


def test_an_address_keeps_its_first_letter_and_domain() -> None:
    assert mask_email("john.doe@example.com") == "j***@example.com"
    assert mask_document({"name": "Li", "phones": ["+8613800138000"], "emails": ["li@x.cn"], "tier": "vip",
                          "crm_url": "https://crm/?n=%2B8613800138000"}) == {
        "name": "Li", "phones": ["+86 138 **** 8000"], "emails": ["l***@x.cn"], "tier": "vip", "crm_url": None}


def test_a_pop_is_masked_but_keeps_the_customer() -> None:
    pop = ScreenPopShown((1,), "pbx", "1.1", {"number": "+8613800138000", "number_display": "+86 138 0013 8000",
                                              "customer": {"id": 7, "name": "Zhang"}})
    masked = mask_event(pop)
    assert isinstance(masked, ScreenPopShown)
    assert masked.pop == {"number": "+86 138 **** 8000", "number_display": "+86 138 **** 8000",
                          "customer": {"id": 7, "name": "Zhang"}}
    assert pop.pop["number"] == "+8613800138000"  # the published event is untouched


def _actor(*roles: str) -> Actor:
    return Actor(1, "x", effective_roles(roles))


def test_only_people_whose_every_role_is_masked_see_masked_values() -> None:
    agents = PrivacySettings(frozenset({"agent"}))
    assert agents.masks(_actor("agent"))
    assert not agents.masks(_actor("supervisor"))  # a supervisor is an agent too, but not only
    assert not agents.masks(_actor("admin")) and not agents.masks(Actor.system())
    assert not PrivacySettings().masks(_actor("agent"))
    with pytest.raises(Exception, match="unknown role"):
        parse_settings(["boss"], None, None)
    with pytest.raises(Exception, match="number of days"):
        parse_settings([], "0", None)
    assert parse_settings(["agent"], "30", "").as_dict() == {"masked_roles": ["agent"], "ticket_days": 30,
                                                            "call_days": None}
