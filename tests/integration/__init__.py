"""Tests of the Home Assistant integration against the real QuestDB and MongoDB-wire servers."""
