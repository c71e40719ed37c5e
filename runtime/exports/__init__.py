"""Export, print and the people-readable values they share (PL-20/PL-21: every channel is permissioned).

Rows come from the permissioned records service, so an export holds exactly what the list page
shows the same user: the same data scope, masked fields masked, hidden fields left out.
"""

from runtime.exports.columns import ExportColumn, export_columns
from runtime.exports.journal import Actor
from runtime.exports.limits import MAX_ROWS_PARAM
from runtime.exports.printing import print_list, print_record
from runtime.exports.service import FORMATS, Exporter, ExportFile, ExportTooLarge
from runtime.records.url_query import list_query_from_params

__all__ = [
    "FORMATS",
    "Actor",
    "MAX_ROWS_PARAM",
    "ExportColumn",
    "ExportFile",
    "ExportTooLarge",
    "Exporter",
    "export_columns",
    "list_query_from_params",
    "print_list",
    "print_record",
]
