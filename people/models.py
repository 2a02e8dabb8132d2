"""People. A household (户) is a node of the territory tree (kind "household"); a person belongs to
one node, usually their household, and copies its path for cheap scoped lists."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from common.masking import mask_id_number, mask_name, mask_phone


class Category(models.TextChoices):
    RESIDENT = "resident", _("Permanent resident")
    FLOATING = "floating", _("Floating population")
    STUDENT = "student", _("Student")
    STAFF = "staff", _("Teaching staff")
    LOGISTICS = "logistics", _("Logistics staff")


class Sex(models.TextChoices):
    MALE = "M", _("Male")
    FEMALE = "F", _("Female")


class PersonQuerySet(models.QuerySet["Person"]):
    def within(self, path: str) -> PersonQuerySet:
        from territory.selectors import subtree_q

        return self.filter(subtree_q(path))


class Person(models.Model):
    name = models.CharField(_("name"), max_length=50)
    # Stored normalised (half-width digits, upper-case X); unique on that form.
    id_number = models.CharField(_("ID number"), max_length=18, unique=True)
    birth_date = models.DateField(_("birth date"))
    sex = models.CharField(_("sex"), max_length=1, choices=Sex.choices)
    phone = models.CharField(_("phone"), max_length=11, blank=True, db_index=True)
    area = models.ForeignKey("territory.Area", on_delete=models.PROTECT, related_name="+")
    area_path = models.CharField(max_length=80, db_index=True, editable=False)
    category = models.CharField(_("category"), max_length=16, choices=Category.choices, default=Category.RESIDENT)
    vaccine_doses = models.PositiveSmallIntegerField(_("vaccine doses"), default=0)
    is_elderly_alone = models.BooleanField(_("elderly living alone"), default=False)
    is_mobility_impaired = models.BooleanField(_("limited mobility"), default=False)
    has_no_smartphone = models.BooleanField(_("no smartphone"), default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = PersonQuerySet.as_manager()

    class Meta:
        verbose_name = _("person")
        verbose_name_plural = _("people")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(vaccine_doses__lte=10), name="person_vaccine_doses_range"
            ),
            models.CheckConstraint(condition=models.Q(sex__in=["M", "F"]), name="person_sex_valid"),
        ]
        indexes = [models.Index(fields=["area_path", "name"], name="person_area_name_idx")]

    def __str__(self) -> str:
        return self.masked_name

    @property
    def masked_name(self) -> str:
        return mask_name(self.name)

    @property
    def masked_id_number(self) -> str:
        return mask_id_number(self.id_number)

    @property
    def masked_phone(self) -> str:
        return mask_phone(self.phone)

    @property
    def needs_home_sampling(self) -> bool:
        return self.is_mobility_impaired
