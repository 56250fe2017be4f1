"""pyarrow schemas of the datasets and the typed records passed between stages."""
