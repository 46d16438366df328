"""fedpe's tools: one module per tool, each a Prefect flow with typed parameters and a ToolSpec."""
