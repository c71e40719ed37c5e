"""Blueprint packs: the published format, loading, validation and the in-memory model."""

from runtime.blueprints.errors import PackError, PackInvalid
from runtime.blueprints.loader import load_pack, load_pack_from_documents
from runtime.blueprints.model import Entity, Field, Form, OptionSet, Pack, View

__all__ = [
    "Entity",
    "Field",
    "Form",
    "OptionSet",
    "Pack",
    "PackError",
    "PackInvalid",
    "View",
    "load_pack",
    "load_pack_from_documents",
]
