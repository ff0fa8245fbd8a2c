"""The one restriction mechanism for every read.

Every model that can reach a user carries markings (MarkedModel) and is read through
`Model.objects.restrict(user, action)`. API, pages, exports and commands all use it; a test walks
every route with every role (tests/accounts/test_access_matrix.py).
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from resolute.core.markings import ALL, TLP_LEVELS, Classification, Reader

from . import roles


def reader_of(user) -> Reader:
    if user is None or not getattr(user, "is_authenticated", False) or user.role == roles.Role.PUBLIC:
        return Reader(public=True)
    return Reader(clearance=Classification(user.clearance), nation=user.nation or "", public=False)


def marking_q(reader: Reader) -> Q:
    """The database form of core.markings.may_read."""
    if reader.public:
        return Q(classification=Classification.PUBLIC, tlp="CLEAR", releasable_to=f"|{ALL}|")
    rel = Q(releasable_to__contains=f"|{ALL}|")
    if reader.nation:
        rel |= Q(releasable_to__contains=f"|{reader.nation}|") | Q(originator=reader.nation)
        red_ok = Q(originator=reader.nation)
    else:
        red_ok = Q(pk__in=[])
    return Q(classification__lte=int(reader.clearance)) & rel & (~Q(tlp="RED") | red_ok)


class RestrictedQuerySet(models.QuerySet):
    def restrict(self, user, action: str = roles.VIEW):
        if not roles.allows(user, action, self.model.resource):
            return self.none()
        return self.filter(marking_q(reader_of(user)))


class ReferenceQuerySet(models.QuerySet):
    """Reference data (parties, coalition members) carries no markings: it is public by nature;
    only the role table applies."""

    def restrict(self, user, action: str = roles.VIEW):
        return self if roles.allows(user, action, self.model.resource) else self.none()


class MarkedModel(models.Model):
    """Markings on every record: classification, TLP 2.0, releasability, originator."""

    resource = ""  # the resource name used in roles.PERMISSIONS

    # Not indexed: four values, never selective enough to help a query.
    classification = models.PositiveSmallIntegerField(choices=[(c.value, c.name) for c in Classification], default=Classification.RESTRICTED)
    tlp = models.CharField(max_length=12, choices=[(t, t) for t in TLP_LEVELS], default="AMBER")
    releasable_to = models.CharField(max_length=400, default=f"|{ALL}|", help_text="'|ALL|' or '|FRA|USA|'")
    originator = models.CharField(max_length=3, blank=True, default="")

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        abstract = True


MARKING_FIELDS = ("classification", "tlp", "releasable_to", "originator")


def copy_marking(source, target) -> None:
    """Give `target` the markings of the record it derives from (an offer its requirement's, a
    response task its activation's)."""
    for f in MARKING_FIELDS:
        setattr(target, f, getattr(source, f))
