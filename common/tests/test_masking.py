import pytest

from common.masking import mask_id_number, mask_name, mask_phone
from common.phone import InvalidPhone, normalize_phone


def test_masks_match_the_design():
    assert mask_name("张三") == "张*"
    assert mask_name("欧阳娜娜") == "欧***"
    assert mask_id_number("37080019900101123X") == "3708**********123X"
    assert mask_phone("13812345678") == "138****5678"
    assert mask_name("") == mask_id_number("") == mask_phone("") == ""


@pytest.mark.parametrize("raw", ["13812345678", "+86 138-1234-5678", "１３８１２３４５６７８", "0086 13812345678"])
def test_phone_normalisation(raw):
    assert normalize_phone(raw) == "13812345678"


@pytest.mark.parametrize("raw", ["12812345678", "1381234567", "138123456789", "0537-1234567", "abc"])
def test_bad_phones_are_refused(raw):
    with pytest.raises(InvalidPhone):
        normalize_phone(raw)
