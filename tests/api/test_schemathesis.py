"""A bounded property-based run against the OpenAPI document: no request may cause a 5xx.

Every operation gets generated requests (valid and invalid) as an admin; the run is capped per
operation so it stays well under a minute.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from sqlmodel import Session

from api.auth import create_key
from api.main import create_app
from models.db import get_engine
from tests.api.conftest import make_settings

_DATA = Path(tempfile.mkdtemp(prefix="hamsu-schemathesis-"))
_SETTINGS = make_settings(_DATA / "var")
APP = create_app(_SETTINGS, start_worker=False)
with Session(get_engine(_SETTINGS.database_url)) as _session:
    ADMIN = create_key(_session, name="schemathesis", role="admin")[1]

schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@schema.parametrize()
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_request_causes_a_server_error(case):
    response = case.call(headers={"Authorization": f"Bearer {ADMIN}"})
    case.validate_response(response, checks=[not_a_server_error])
