"""Fusion of monitoring observations: locating origins, correlating reports, confidence."""
