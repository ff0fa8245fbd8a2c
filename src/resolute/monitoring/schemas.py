"""The observation's wire format (API, imports, demo): one pydantic model, strict.

Unknown fields, NaN, NUL characters, naive times, times far in the future and out-of-range
coordinates are refused with the field named (RFC 9457 problem documents, web/problems.py).
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from typing import Annotated, Literal

from django.conf import settings
from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from resolute.core import vocabulary as v
from resolute.core.geo import COMPASS_16
from resolute.core.markings import TLP_LEVELS, Classification


def _storable(s: str) -> str:
    # PostgreSQL text cannot hold NUL; refuse it here rather than fail in the database.
    if "\x00" in s:
        raise ValueError("must not contain NUL characters")
    # A JSON escape such as "\udfff" decodes to a lone surrogate, which is not text: it cannot
    # be encoded as UTF-8 for the content hash or the database. pydantic refuses it in some
    # positions (a plain str field) but not others (str items of a list, e.g. `chain`).
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text (no lone surrogates)") from None
    return s


Text = Annotated[str, AfterValidator(_storable)]


def _in_utc(value: dt.datetime) -> dt.datetime:
    # Compare and store in UTC. Converting 0001-01-01T00:00+01:00 or 9999-12-31T23:00-05:00 to
    # UTC leaves the representable range (SQLite's adapter fails on it, PostgreSQL refuses
    # offsets beyond ±15:59 that ISO 8601 allows): refuse those as bad input, not a 500.
    try:
        return value.astimezone(dt.timezone.utc)
    except OverflowError:
        raise ValueError("is out of the representable date range") from None


UtcTime = Annotated[AwareDatetime, AfterValidator(_in_utc)]
Lat = Annotated[float, Field(ge=-90, le=90, description="WGS 84 latitude, degrees")]
Lon = Annotated[float, Field(ge=-180, le=180, description="WGS 84 longitude, degrees")]
NationCode = Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="ISO 3166 alpha-3 (EUU for the EU institutions)")]
EARLIEST = dt.datetime(1990, 1, 1, tzinfo=dt.timezone.utc)
_latest_cache: list = [-1.0, None]


def _latest_allowed() -> dt.datetime:
    """Now plus the allowed clock skew, refreshed at most every 0.1 s: two time fields per
    observation, thousands of observations per batch, one clock reading."""
    tick = time.monotonic()
    if tick - _latest_cache[0] > 0.1:
        _latest_cache[:] = [tick, dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=settings.FUTURE_TOLERANCE_S)]
    return _latest_cache[1]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)


class Position(Strict):
    lat: Lat
    lon: Lon
    accuracy_m: float = Field(ge=0, le=100_000, description="observer position error, metres (1σ)")


class EventPoint(Strict):
    lat: Lat
    lon: Lon
    error_m: float = Field(ge=0, le=500_000, description="radius of the estimate, metres")


class Direction(Strict):
    bearing_deg: float | None = Field(None, ge=0, lt=360, description="true bearing from the observer, degrees")
    bearing_sigma_deg: float | None = Field(None, gt=0, le=180, description="bearing standard deviation, degrees")
    compass_sector: Literal[COMPASS_16] | None = Field(None, description="16-point compass sector, e.g. SSE")
    range_min_m: float | None = Field(None, ge=0, le=1_000_000)
    range_max_m: float | None = Field(None, ge=0, le=1_000_000)

    @model_validator(mode="after")
    def _consistent(self):
        if (self.bearing_deg is None) == (self.compass_sector is None):
            raise ValueError("give either bearing_deg or compass_sector, not both or neither")
        if self.bearing_sigma_deg is not None and self.bearing_deg is None:
            raise ValueError("bearing_sigma_deg needs bearing_deg")
        if self.range_min_m is not None and self.range_max_m is not None and self.range_min_m > self.range_max_m:
            raise ValueError("range_min_m must not exceed range_max_m")
        return self


class MarkingIn(Strict):
    classification: Literal[tuple(c.name for c in Classification)] = "RESTRICTED"
    tlp: Literal[TLP_LEVELS] = "AMBER"
    releasable_to: list[Annotated[str, Field(pattern=r"^([A-Z]{3}|ALL)$")]] = Field(default_factory=lambda: ["ALL"], min_length=1, max_length=80)
    originator: NationCode | Literal[""] = ""


# Shown in the API documentation; schema-driven clients and test generators start from it.
OBSERVATION_EXAMPLE = {
    "client_id": "0b9c3e0e-6a55-4f1e-9d0e-3c2f4f6f1a01",
    "channel": "observation_post",
    "observer": {"lat": 47.6, "lon": 35.8, "accuracy_m": 10},
    "observed_from": "2025-03-01T21:40:00Z",
    "observed_to": "2025-03-01T21:52:00Z",
    "event_type": "explosion_impact",
    "perception": "heard",
    "count": 7,
    "weapon_class": "artillery_100mm_plus",
    "direction": {"compass_sector": "SSE", "range_min_m": 1400, "range_max_m": 1600},
    "narrative": "heard 7 explosions 1.4-1.6 km SSE",
    "source": "OP-UKR-01",
    "grade": "B2",
    "chain": ["OP-UKR-01"],
    "marking": {"classification": "RESTRICTED", "tlp": "AMBER", "releasable_to": ["ALL"], "originator": "FRA"},
}


class ObservationIn(Strict):
    """One observation as a monitor, sensor or analyst submits it."""

    model_config = ConfigDict(json_schema_extra={"examples": [OBSERVATION_EXAMPLE]})

    client_id: uuid.UUID = Field(description="UUID chosen by the client; resubmitting it is idempotent")
    channel: Literal[v.CHANNELS]
    observer: Position
    observed_from: AwareDatetime = Field(description="start of the observed window, UTC")
    observed_to: AwareDatetime = Field(description="end of the observed window, UTC")
    event_type: Literal[v.EVENT_TYPES]
    perception: Literal[v.PERCEPTIONS]
    count: int = Field(1, ge=1, le=100_000)
    weapon_class: Literal[v.WEAPON_CLASSES] = "unknown"
    location: EventPoint | None = None
    direction: Direction | None = None
    narrative: Text = Field("", max_length=10_000)
    attachments: list[Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]] = Field(default_factory=list, max_length=50)
    source: Text = Field(min_length=1, max_length=64, description="code of a registered source")
    grade: str = Field(pattern=r"^[A-F][1-6]$", description="Admiralty grade, e.g. B2")
    chain: list[Annotated[Text, Field(min_length=1, max_length=100)]] = Field(default_factory=list, max_length=12)
    marking: MarkingIn = Field(default_factory=MarkingIn)

    @field_validator("observed_from", "observed_to")
    @classmethod
    def _plausible_time(cls, value: dt.datetime) -> dt.datetime:
        if value > _latest_allowed():
            raise ValueError("lies in the future (beyond the allowed clock skew)")
        if value < EARLIEST:
            raise ValueError("is before 1990")
        return value if value.tzinfo is dt.timezone.utc else value.astimezone(dt.timezone.utc)

    @model_validator(mode="after")
    def _consistent(self):
        if (self.location is None) == (self.direction is None):
            raise ValueError("give either location (an estimated point) or direction (bearing/sector and range), exactly one")
        if self.observed_to < self.observed_from:
            raise ValueError("observed_to is before observed_from")
        return self


OBSERVATION_BODY_SCHEMA_NOTE = (
    "One observation object, or a JSON array of up to RESOLUTE_MAX_BULK (default 10,000) of them. "
    "A list is all-or-nothing: if any item is invalid, nothing is written and the problem document "
    "lists each item's errors by index."
)
