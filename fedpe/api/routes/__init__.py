"""One router per resource; handlers are a few lines over fedpe.api.services."""
