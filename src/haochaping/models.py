"""Imports every domain's models so that the metadata is complete (Alembic, test schema)."""

from haochaping.calendar import models as calendar_models
from haochaping.cases import models as cases_models
from haochaping.catalog import models as catalog_models
from haochaping.db import Base
from haochaping.deadlines import models as deadlines_models
from haochaping.evaluations import models as evaluations_models

__all__ = [
    "Base",
    "calendar_models",
    "cases_models",
    "catalog_models",
    "deadlines_models",
    "evaluations_models",
]
