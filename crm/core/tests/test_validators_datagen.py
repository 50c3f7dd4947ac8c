from collections import Counter
from datetime import date

import pytest
from django.core.exceptions import ValidationError

from crm.core.datagen import MOBILE_PREFIXES, People
from crm.core.masking import mask_id_number, mask_mobile
from crm.core.validators import id_check_digit, validate_id_number, validate_mobile


def test_id_check_digit_known_number() -> None:
    # GB 11643 example: 11010519491231002X
    assert id_check_digit("11010519491231002") == "X"
    validate_id_number("11010519491231002X")
    validate_id_number("11010519491231002x")


@pytest.mark.parametrize(
    ("value", "code"),
    [("110105194912310021", "id_check"), ("1101051949123100", "id_format"), ("110105194913310028", "id_birthday")],
)
def test_bad_id_numbers_are_refused_with_a_reason(value: str, code: str) -> None:
    with pytest.raises(ValidationError) as exc:
        validate_id_number(value)
    assert exc.value.code == code


@pytest.mark.parametrize("value", ["13812345678", "189 1234 5678", "+8615912345678"])
def test_good_mobiles(value: str) -> None:
    validate_mobile(value)


@pytest.mark.parametrize("value", ["12812345678", "1381234567", "abc", "138123456789"])
def test_bad_mobiles(value: str) -> None:
    with pytest.raises(ValidationError):
        validate_mobile(value)


def test_generated_people_are_valid_and_weighted() -> None:
    people = People(seed=7)
    surnames = Counter(people.surname() for _ in range(20000))
    # The three commonest surnames lead, in the published order of magnitude (~7 % each).
    assert {s for s, _ in surnames.most_common(3)} == {"王", "李", "张"}
    assert 0.05 < surnames["王"] / 20000 < 0.10
    mobiles = [people.mobile() for _ in range(2000)]
    assert len(set(mobiles)) == len(mobiles)
    for m in mobiles:
        validate_mobile(m)
        assert m[:3] in MOBILE_PREFIXES
        assert not m.startswith(("166", "19"))
    for _ in range(500):
        gender = people.gender()
        birthday = people.birthday()
        number = people.id_number(birthday, gender)
        validate_id_number(number)
        assert number[6:14] == birthday.strftime("%Y%m%d")
        assert int(number[16]) % 2 == (1 if gender == "M" else 0)
        assert date(1940, 1, 1) < birthday < date(1989, 1, 1)


def test_same_seed_same_people() -> None:
    a, b = People(seed=3), People(seed=3)
    assert [a.name() for _ in range(50)] == [b.name() for _ in range(50)]


def test_masks() -> None:
    assert mask_mobile("13812345678") == "138****5678"
    assert mask_id_number("11010519491231002X") == "110105********002X"
    assert mask_mobile("") == ""
    assert mask_mobile("12345") == "*****"
