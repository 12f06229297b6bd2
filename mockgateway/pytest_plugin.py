"""pytest plugin: the mock_gateway fixture and automatic contract checks."""
