"""HTTP edge: the Starlette app. Domain work lives in service.processing."""
