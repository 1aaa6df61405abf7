"""The OpenAPI document tells the truth about errors: every error body is `{"type", "detail"}` (ErrorPublic)."""

import pytest

from app.main import create_app
from app.settings import Settings

DOC = create_app(Settings()).openapi()
OPEN = ("/healthz", "/readyz", "/metrics")
OPERATIONS = [(path, method, op) for path, item in DOC["paths"].items() for method, op in item.items()
              if method in ("get", "post", "put", "patch", "delete")]


@pytest.mark.parametrize(("path", "method", "op"), OPERATIONS, ids=[f"{m.upper()} {p}" for p, m, _ in OPERATIONS])
def test_error_responses_are_documented_with_the_real_body(path, method, op):
    responses = op["responses"]
    if path in OPEN:
        # health and metrics need no key: no 401/403 is promised
        assert "401" not in responses and "403" not in responses
        return
    for code in ("401", "403", "422"):
        # every authenticated route documents its auth and validation errors as ErrorPublic
        schema = responses[code]["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/ErrorPublic"}, code


def test_no_operation_documents_fastapis_validation_shape():
    # the handler answers {"type", "detail"}, never FastAPI's {"detail": [{loc, msg}]}
    assert "HTTPValidationError" not in DOC["components"]["schemas"]
    assert set(DOC["components"]["schemas"]["ErrorPublic"]["required"]) == {"type", "detail"}
