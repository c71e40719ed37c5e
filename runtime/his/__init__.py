"""HIS integration (PC-17, PL-17): HL7 v2 ADT over MLLP and HTTP, FHIR R4 Patient/Encounter over HTTP,
mapped to pack entities by the pack's ``his/*.json`` (kind ``his_mapping``) and applied through the
records service with channel "his": idempotent by control id, ordered per patient, every message logged.

Operating it:

* MLLP: ``TESSERA_HIS_MLLP_PORT=2575 tessera serve`` (``TESSERA_HIS_MLLP_HOST`` to bind another address),
  or a separate process ``tessera his listen --port 2575``.
* HTTP: ``POST /api/v1/his/hl7`` (one message, text) and ``POST /api/v1/his/fhir`` (a resource or a
  batch/transaction Bundle) with an API token of a user whose role has the right ``his``.
* The log: ``/admin/his`` (administrators) or ``GET /api/v1/his/messages``.
* Demo and load: ``tessera his simulate --count 500 --seed 1 --send mllp://127.0.0.1:2575`` (or ``--out``).

Modules: paths (HL7/FHIR path grammar), mapping (the pack document, value conversion), checks (pack
validation), service (transaction, locks, log, apply/merge), hl7v2 and fhir (translation and replies),
mllp (the listener), simulate (the ADT generator), cli (``tessera his listen|simulate``).
"""
