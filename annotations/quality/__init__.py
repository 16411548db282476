"""Annotation quality: agreement between annotators, gold checks and consensus; no Django."""
