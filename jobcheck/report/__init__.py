"""Reporters: each turns a RunResult into text for one output format."""

FORMATS = ("text", "json")
