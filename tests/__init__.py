"""Tests for Energy Tracker."""
