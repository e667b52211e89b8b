"""Command-line clients run by people: upload, export, status."""
