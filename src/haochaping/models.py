"""Imports every domain's models so that the metadata is complete (Alembic, test schema)."""

from haochaping.accounts import models as accounts_models
from haochaping.audit import models as audit_models
from haochaping.calendar import models as calendar_models
from haochaping.callbacks import models as callbacks_models
from haochaping.cases import models as cases_models
from haochaping.catalog import models as catalog_models
from haochaping.channels import device_models, paper_models, window_qr_models
from haochaping.clients import models as clients_models
from haochaping.db import Base
from haochaping.deadlines import models as deadlines_models
from haochaping.evaluations import models as evaluations_models
from haochaping.messaging import models as messaging_models
from haochaping.remarks import models as remarks_models
from haochaping.statistics import models as statistics_models
from haochaping.textreview import models as textreview_models
from haochaping.workorders import models as workorders_models

__all__ = [
    "Base",
    "accounts_models",
    "audit_models",
    "calendar_models",
    "callbacks_models",
    "cases_models",
    "catalog_models",
    "clients_models",
    "deadlines_models",
    "device_models",
    "evaluations_models",
    "messaging_models",
    "paper_models",
    "remarks_models",
    "statistics_models",
    "textreview_models",
    "window_qr_models",
    "workorders_models",
]
