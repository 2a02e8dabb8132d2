import threading

import pytest
from django.db import close_old_connections

from audit.models import AuditEntry
from audit.services import Actor
from common.errors import DomainError
from people.models import Person
from people.services import PersonData, person_register, person_update
from people.tests.factories import make_id_number


def data(**kw):
    base = {"name": "赵六", "id_number": make_id_number(), "phone": "138 1234 0000"}
    base.update(kw)
    return PersonData(**base)


def test_register_derives_birth_date_and_sex_and_audits(alice, district):
    number = make_id_number()  # born 1985-06-15, odd sequence
    p = person_register(actor=Actor(user=alice), data=data(id_number=number), area=district.household_a)
    assert str(p.birth_date) == "1985-06-15" and p.sex == "M"
    assert p.phone == "13812340000"
    assert p.area_path == district.household_a.path
    assert AuditEntry.objects.filter(action="person.register", object_id=str(p.pk), actor=alice).exists()


def test_duplicate_id_number_is_refused_with_a_clear_message(alice, district):
    number = make_id_number()
    person_register(actor=Actor(user=alice), data=data(id_number=number), area=district.household_a)
    with pytest.raises(DomainError) as exc:
        person_register(actor=Actor(user=alice), data=data(id_number=number.lower()), area=district.household_a)
    assert exc.value.code == "person_duplicate"
    assert "已登记" in str(exc.value.message)
    assert Person.objects.filter(id_number=number).count() == 1


def test_registering_into_another_grid_is_refused(alice, district):
    with pytest.raises(DomainError) as exc:
        person_register(actor=Actor(user=alice), data=data(), area=district.household_b)
    assert exc.value.status == 404
    assert not Person.objects.exists()


@pytest.mark.parametrize(
    ("kw", "code"),
    [
        ({"name": ""}, "name_required"),
        ({"name": "名" * 51}, "name_too_long"),
        ({"phone": "12345"}, "phone_invalid"),
        ({"id_number": "3708111985061500"}, "id_length"),
        ({"vaccine_doses": 11}, "vaccine_doses_invalid"),
        ({"category": "alien"}, "category_invalid"),
    ],
)
def test_bad_input_changes_nothing(alice, district, kw, code):
    with pytest.raises(DomainError) as exc:
        person_register(actor=Actor(user=alice), data=data(**kw), area=district.household_a)
    assert exc.value.code == code
    assert not Person.objects.exists()
    assert not AuditEntry.objects.filter(action="person.register").exists()


def test_update_audits_the_changed_fields_only(alice, person_a, district):
    d = PersonData(name="张三", id_number=person_a.id_number, phone="13800000000")
    person_update(actor=Actor(user=alice), person=person_a, data=d, area=district.household_a)
    entry = AuditEntry.objects.get(action="person.update")
    assert entry.extra["fields"] == ["phone"]
    person_update(actor=Actor(user=alice), person=person_a, data=d, area=district.household_a)
    assert AuditEntry.objects.filter(action="person.update").count() == 1


@pytest.mark.django_db(transaction=True)
def test_the_same_person_registered_twice_in_parallel_gives_one_person(alice, district):
    number = make_id_number()
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def register() -> None:
        barrier.wait()
        try:
            person_register(actor=Actor(user=alice), data=data(id_number=number), area=district.household_a)
            outcomes.append("ok")
        except DomainError as exc:
            outcomes.append(exc.code)
        finally:
            close_old_connections()

    threads = [threading.Thread(target=register) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["ok", "person_duplicate"]
    assert Person.objects.filter(id_number=number).count() == 1
