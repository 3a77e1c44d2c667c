"""PDF remittance layouts (data files, one per payer portal layout); schema in docs/layouts.md."""
