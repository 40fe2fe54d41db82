"""Describe payloads: describeGlobal, per-object describe and basic info, and the API versions list."""

from __future__ import annotations

from typing import Any

from .objects import OBJECTS, Field, SObject

__all__ = ["describe_global", "describe_object", "basic_info", "versions"]


def _urls(obj: SObject, base: str) -> dict[str, str]:
    root = f"{base}/sobjects/{obj.name}"
    return {"sobject": root, "describe": f"{root}/describe", "rowTemplate": f"{root}/{{ID}}"}


def _summary(obj: SObject, base: str) -> dict[str, Any]:
    return {"name": obj.name, "label": obj.label, "labelPlural": obj.plural, "keyPrefix": obj.prefix,
            "custom": obj.custom, "queryable": True, "retrieveable": True, "searchable": True,
            "createable": True, "updateable": True, "deletable": True, "undeletable": False,
            "replicateable": True, "layoutable": True, "urls": _urls(obj, base)}


def describe_global(base: str) -> dict[str, Any]:
    return {"encoding": "UTF-8", "maxBatchSize": 200, "sobjects": [_summary(o, base) for o in OBJECTS.values()]}


def basic_info(obj: SObject, base: str) -> dict[str, Any]:
    return {"objectDescribe": _summary(obj, base), "recentItems": []}


def _field(obj: SObject, f: Field) -> dict[str, Any]:
    auto = f.name == "Name" and obj.autonumber is not None
    nillable = not f.required and f.type not in ("boolean", "id") and f.name not in (
        "CreatedDate", "CreatedById", "LastModifiedDate", "LastModifiedById", "SystemModstamp", "OwnerId")
    return {
        "name": f.name, "label": f.label, "type": f.type, "length": f.length, "custom": f.custom,
        "nillable": nillable, "defaultedOnCreate": f.type == "boolean" or not f.createable or auto,
        "createable": f.createable, "updateable": f.updateable, "filterable": True, "sortable": True,
        "externalId": f.external_id, "unique": f.unique, "idLookup": f.name == "Id" or f.external_id,
        "nameField": f.name == "Name", "autoNumber": False, "caseSensitive": False,
        "picklistValues": [{"value": v, "label": lb, "active": True, "defaultValue": False, "validFor": None}
                           for v, lb in f.picklist],
        "restrictedPicklist": f.restricted, "referenceTo": [f.reference_to] if f.reference_to else [],
        "relationshipName": f.relationship_name, "soapType": _soap(f.type),
        "defaultValue": False if f.type == "boolean" else None,
    }


def _soap(kind: str) -> str:
    return {"id": "tns:ID", "reference": "tns:ID", "boolean": "xsd:boolean", "date": "xsd:date",
            "datetime": "xsd:dateTime"}.get(kind, "xsd:string")


def describe_object(obj: SObject, base: str) -> dict[str, Any]:
    children = [{"childSObject": o.name, "field": f.name, "relationshipName": o.plural.replace(" ", "_") + "__r"
                 if o.custom else o.plural.replace(" ", ""), "cascadeDelete": False}
                for o in OBJECTS.values() for f in o.fields.values()
                if f.reference_to == obj.name and f.name not in ("CreatedById", "LastModifiedById", "OwnerId")]
    out = _summary(obj, base)
    out.update(fields=[_field(obj, f) for f in obj.fields.values()], childRelationships=children,
               recordTypeInfos=[], supportedScopes=[{"label": "All", "name": "everything"}])
    return out


def _label(version: int) -> str:
    step = version - 66
    season = ("Spring", "Summer", "Winter")[step % 3]
    year = 26 + step // 3 + (1 if step % 3 == 2 else 0)
    return f"{season} '{year:02d}"


def versions(latest: str) -> list[dict[str, str]]:
    top = int(float(latest))
    return [{"label": _label(v), "url": f"/services/data/v{v}.0", "version": f"{v}.0"} for v in range(20, top + 1)]
