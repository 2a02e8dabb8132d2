import datetime as dt

import pytest

from common import idnumber
from common.idnumber import InvalidIdNumber, parse, with_check_digit

VALID = with_check_digit("37081119850615001")  # a man born 1985-06-15 in 任城区


def test_valid_number_gives_birth_date_and_sex():
    parsed = parse(VALID)
    assert parsed.value == VALID
    assert parsed.birth_date == dt.date(1985, 6, 15)
    assert parsed.sex == "M"


def test_even_sequence_is_a_woman():
    assert parse(with_check_digit("37081119850615002")).sex == "F"


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (VALID[:-1] + str((int(VALID[-1]) + 1) % 10) if VALID[-1] != "X" else VALID[:-1] + "0", "id_checksum"),
        (VALID[:17], "id_length"),
        (VALID + "1", "id_length"),
        ("", "id_empty"),
        ("3708111985061500AB", "id_format"),
        (with_check_digit("37081119990230001"), "id_birth_date"),  # 30 February
        (with_check_digit("37081121990101001"), "id_birth_date"),  # born in 2199
        (with_check_digit("99999919850615001"), "id_region"),
    ],
)
def test_invalid_numbers_are_refused_with_a_code(raw, code):
    with pytest.raises(InvalidIdNumber) as exc:
        parse(raw, today=dt.date(2026, 11, 28))
    assert exc.value.code == code


def test_future_birth_date_relative_to_today():
    tomorrow = with_check_digit("37081120261129001")
    with pytest.raises(InvalidIdNumber) as exc:
        parse(tomorrow, today=dt.date(2026, 11, 28))
    assert exc.value.code == "id_birth_date"
    assert parse(tomorrow, today=dt.date(2026, 11, 29)).birth_date == dt.date(2026, 11, 29)


def test_full_width_digits_spaces_and_lowercase_x_are_normalised():
    x_number = next(
        with_check_digit(f"370811198506150{n:02d}")
        for n in range(100)
        if with_check_digit(f"370811198506150{n:02d}").endswith("X")
    )
    typed = " " + x_number[:6] + " " + x_number[6:-1] + "x "
    full_width = "".join(chr(ord(c) + 0xFEE0) if c.isdigit() else c for c in typed)
    assert parse(full_width).value == x_number
    assert idnumber.normalize("３７０８-１１") == "370811"


def test_elderly_person_with_a_county_code_newer_than_their_birth_is_accepted():
    # 370811 (任城区) dates from 1983; a man born in 1941 there carries it on his card.
    assert parse(with_check_digit("37081119410101001")).birth_date == dt.date(1941, 1, 1)


def test_unknown_county_in_a_known_province_is_refused():
    with pytest.raises(InvalidIdNumber) as exc:
        parse(with_check_digit("37089919850615001"))
    assert exc.value.code == "id_region"
