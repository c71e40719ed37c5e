"""PL-17: the pack's HIS mapping is checked when the pack is validated; every bad entity, field, path, value
map and option value is named by file and JSON pointer."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from runtime.blueprints import load_pack
from runtime.blueprints.errors import PackInvalid

PACKS = Path(__file__).parent / "packs"


def _with_mapping(tmp_path: Path, change: dict) -> Path:
    target = tmp_path / "his_pack"
    shutil.copytree(PACKS / "his_pack", target)
    path = target / "his" / "adt.json"
    doc = json.loads(path.read_text("utf-8"))
    for pointer, value in change.items():
        node = doc
        *parents, last = pointer.strip("/").split("/")
        for part in parents:
            node = node[part]
        node[last] = value
    path.write_text(json.dumps(doc, ensure_ascii=False), "utf-8")
    return target


def test_pl17_test_pack_mapping_is_valid() -> None:
    pack = load_pack(PACKS / "his_pack")
    assert set(pack.extras["his_mapping"]) == {"adt"}


@pytest.mark.parametrize(
    ("change", "pointer", "text"),
    [
        ({"/hl7/patient/birth_date": "PID7"}, "/hl7/patient/birth_date", "'PID7' is not an HL7 v2 path"),
        ({"/hl7/patient/shoe_size": "PID-99"}, "/hl7/patient/shoe_size", "entity 'patient' has no field 'shoe_size'"),
        ({"/fhir/patient/phone": "telecom[system=phone.value"}, "/fhir/patient/phone", "is not a FHIR path step"),
        ({"/fhir/stay/admitted_at": "Patient.period.start"}, "/fhir/stay/admitted_at", "not Encounter"),
        ({"/stay/patient_field": "ward"}, "/stay/patient_field", "is select; it must be reference"),
        ({"/patient/entity": "person"}, "/patient/entity", "unknown entity 'person'"),
        ({"/patient/updated_at": "name"}, "/patient/updated_at", "must be datetime"),
        (
            {"/value_maps/ward_codes/W13": "mars"},
            "/value_maps/ward_codes/W13",
            "'mars' is not a value of option set 'ward'",
        ),
        (
            {"/hl7/patient/gender": {"path": "PID-8", "map": "sex"}},
            "/hl7/patient/gender/map",
            "unknown value map 'sex'",
        ),
        ({"/stay/status/discharge": "gone"}, "/stay/status/discharge", "'gone' is not a value of option set"),
        ({"/patient/mirror/bed": "bunk"}, "/patient/mirror/bed", "entity 'admission' has no field 'bunk'"),
        ({"/hl7/merge_from": "MRG1"}, "/hl7/merge_from", "is not an HL7 v2 path"),
    ],
)
def test_pl17_bad_mapping_is_named_precisely(tmp_path: Path, change: dict, pointer: str, text: str) -> None:
    with pytest.raises(PackInvalid) as caught:
        load_pack(_with_mapping(tmp_path, change))
    found = [e for e in caught.value.errors if e.file == "his/adt.json" and e.pointer == pointer]
    assert found and text in found[0].message, [str(e) for e in caught.value.errors]


def test_pl17_mapping_schema_refuses_unknown_keys(tmp_path: Path) -> None:
    with pytest.raises(PackInvalid) as caught:
        load_pack(_with_mapping(tmp_path, {"/hl7/colour": "blue"}))
    assert any(e.file == "his/adt.json" and "colour" in e.message for e in caught.value.errors)


def test_pl17_shipped_patient_crm_mapping_checks() -> None:
    """The patient CRM's mapping names the contract fields; valid as soon as the data model has them."""
    doc = json.loads((Path(__file__).parent.parent / "blueprints/patient_crm/his/adt.json").read_text("utf-8"))
    assert doc["patient"]["key"] == "his_patient_id" and doc["stay"]["entity"] == "admission"
    pack = load_pack(Path(__file__).parent.parent / "blueprints/patient_crm")
    assert "adt" in pack.extras["his_mapping"]
