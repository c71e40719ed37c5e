"""Segments: named, saved combinations of list filters on one entity (target groups such as "secondary
general hospitals with oncology not yet partners"). Shipped in a pack (``segments/``) or saved by a user
from a list page, personal or shared with a role. A segment speaks the list filter language of views and
list URLs (``{"field", "op", "value"}`` = ``field__op=value``), and its records are read through the
records service, so the reader's permissions and data scopes apply."""

from runtime.segments.model import Segment, filters_to_params, parse_filters
from runtime.segments.service import SegmentService

__all__ = ["Segment", "SegmentService", "filters_to_params", "parse_filters"]
