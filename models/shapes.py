"""Stored rows into public shapes: a pydantic model filled from a row's attributes of the same
names, so each shape lists its fields once (in its model) and a builder names only what differs
(a datetime shown as ISO text, a nested shape, a value looked up elsewhere)."""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel

Shape = TypeVar("Shape", bound=BaseModel)


def shape_of(model: type[Shape], row: object, **explicit: object) -> Shape:
    """`model` from `row`'s attributes of its field names; `explicit` values win."""
    fields = {
        name: getattr(row, name)
        for name in model.model_fields
        if name not in explicit and hasattr(row, name)
    }
    return model(**fields, **explicit)
