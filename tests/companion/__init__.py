"""Tests of the companion service."""
