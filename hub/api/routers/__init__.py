"""One module per API resource, each with ``build(ctx) -> APIRouter``."""
