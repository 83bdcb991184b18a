"""Fingerprints of the policy profiles, so that a change to a YAML file shows in the audit log.

At server start::

    with db.transaction() as session:
        record_current_profiles(session, utcnow())

appends a ``profile_changed`` entry for each profile whose resolved content changed since the
fingerprint last recorded for it (the first start records every profile once).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from haochaping.audit.service import canonical_json, record_profile_fingerprints, sm3_hex
from haochaping.errors import DomainError
from haochaping.policy.schemas import Profile
from haochaping.policy.service import get_profile, profile_names


def profile_fingerprint(profile: Profile) -> str:
    """SM3 (hex) of the resolved profile as canonical JSON: the same rules, the same value."""
    return sm3_hex(canonical_json(profile.model_dump(mode="json")).encode("utf-8"))


def current_profile_fingerprints() -> dict[str, str]:
    """Every usable profile's fingerprint, by name.

    A profile file that does not resolve (``haochaping policy check`` says why) cannot be used
    and is left out.
    """
    found: dict[str, str] = {}
    for name in profile_names():
        try:
            profile = get_profile(name=name)
        except DomainError:
            continue
        found[name] = profile_fingerprint(profile)
    return found


def record_current_profiles(session: Session, now: datetime) -> list[str]:
    """Record the profiles that changed since last time (see the module docstring)."""
    return record_profile_fingerprints(session, now, current_profile_fingerprints())
