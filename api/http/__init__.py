"""The HTTP app: its routes, dependencies, error mapping, OpenAPI and static page."""
