"""Tools run beside the course, not imported by notebooks: the machine self-test and the
findings-table runner (``python -m reslab selftest``, ``python -m reslab findings``)."""
