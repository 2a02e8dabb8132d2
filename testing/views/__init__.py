"""Pages of the testing app, one module per audience."""
