"""Input formats: one module per way a dataset can be laid out on disk.

Each module turns its format into a mapping `{canonical table name: path}` that
`careis.data.load.load_dataset` reads and validates. `canonical` is the native layout (one
file or folder per table, named after the table); adapters for other layouts (Synthea, FHIR,
OMOP) belong beside it.
"""
