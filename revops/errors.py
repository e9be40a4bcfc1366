"""Errors the apps' actions raise, shared so each layer can catch what the one
below raises without importing a sibling: the API answers them 409 (through
revops.api.HttpConflict), the pages show their message."""


class Conflict(Exception):
    """The object's state forbids the action (a closed lead, a breach already
    resolved). Nothing was written."""
