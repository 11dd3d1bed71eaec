"""Reproductions of the papers' figures and tables, one module each, registered with the experiment runner."""
