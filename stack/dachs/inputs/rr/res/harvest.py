"""Fill the local RegTAP tables from this data center's own OAI-PMH records.

Debian's DaCHS has no RegTAP (``rr``) schema.  This custom grammar harvests
``<serverURL>/oai.xml`` (metadataPrefix ``ivo_vor``, set ``ivo_managed``) and
yields ``(table, row)`` pairs for the tables of ``rr/q.rd``, following RegTAP
1.1 (ivoids, standard ids and types lowercased; 1-based indexes).  It runs in
DaCHS's own Python and uses only the standard library and DaCHS.
"""

import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET

from gavo import base
from gavo.grammars.customgrammar import CustomRowIterator

OAI = "{http://www.openarchives.org/OAI/2.0/}"
XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
TIMEOUT = 30


def _text(el, path):
    found = el.find(path)
    if found is None or found.text is None:
        return None
    return " ".join(found.text.split()) or None


def _lower(value):
    return value.lower() if value else value


def _xsi_type(el):
    return _lower(el.get(XSI_TYPE))


def _records(base_url):
    """Yield the ri:Resource elements of every active record, paging on."""
    params = {"verb": "ListRecords", "metadataPrefix": "ivo_vor",
              "set": "ivo_managed"}
    while True:
        url = base_url + "?" + urllib.parse.urlencode(params)
        with urllib.request.urlopen(url, timeout=TIMEOUT) as resp:
            tree = ET.parse(resp)
        for record in tree.iter(OAI + "record"):
            header = record.find(OAI + "header")
            if header is not None and header.get("status") == "deleted":
                continue
            metadata = record.find(OAI + "metadata")
            if metadata is not None and len(metadata):
                yield metadata[0]
        token = tree.find(".//" + OAI + "resumptionToken")
        if token is None or not (token.text or "").strip():
            return
        params = {"verb": "ListRecords", "resumptionToken": token.text.strip()}


def _resource_rows(res, harvested_from):
    ivoid = _lower(_text(res, "identifier"))
    content = res.find("content")
    coverage = res.find("coverage")
    wavebands = [w.text.strip().lower() for w in res.iterfind("coverage/waveband")
                 if w.text]
    creators = [_text(c, "name") for c in res.iterfind("curation/creator")]
    yield "resource", {
        "ivoid": ivoid,
        "res_type": _xsi_type(res),
        "created": res.get("created"),
        "updated": res.get("updated"),
        "short_name": _text(res, "shortName"),
        "res_title": _text(res, "title"),
        "content_level": "#".join(
            _lower(c.text.strip()) for c in res.iterfind("content/contentLevel")
            if c.text) or None,
        "res_description": _text(res, "content/description"),
        "reference_url": _text(res, "content/referenceURL"),
        "creator_seq": "; ".join(c for c in creators if c) or None,
        "content_type": "#".join(
            _lower(c.text.strip()) for c in res.iterfind("content/type")
            if c.text) or None,
        "source_format": (content.find("source").get("format")
                          if content is not None and content.find("source") is not None
                          else None),
        "source_value": _text(res, "content/source"),
        "res_version": _text(res, "curation/version"),
        "region_of_regard": _text(res, "coverage/regionOfRegard"),
        "waveband": "#".join(wavebands) or None,
        "rights": _text(res, "rights"),
        "harvested_from": harvested_from,
    }
    for subject in res.iterfind("content/subject"):
        if subject.text:
            yield "res_subject", {"ivoid": ivoid,
                                  "res_subject": subject.text.strip()}
    for date in res.iterfind("curation/date"):
        yield "res_date", {"ivoid": ivoid, "date_value": date.text,
                           "value_role": date.get("role")}
    for base_role, path in (("creator", "curation/creator"),
                            ("contact", "curation/contact"),
                            ("publisher", "curation/publisher")):
        for role in res.iterfind(path):
            yield "res_role", {
                "ivoid": ivoid, "base_role": base_role,
                "role_name": _text(role, "name") if len(role) else _text(res, path),
                "role_ivoid": _lower(role.get("ivo-id")),
                "email": _text(role, "email"), "logo": _text(role, "logo")}
    for rel in res.iterfind("content/relationship"):
        rtype = _text(rel, "relationshipType")
        for related in rel.iterfind("relatedResource"):
            yield "relationship", {
                "ivoid": ivoid, "relationship_type": _lower(rtype),
                "related_id": _lower(related.get("ivo-id")),
                "related_name": (related.text or "").strip() or None}
    if coverage is not None:
        moc = _text(coverage, "spatial")
        if moc:
            yield "stc_spatial", {"ivoid": ivoid, "coverage": moc,
                                  "ref_system_name": None}
    yield from _capability_rows(res, ivoid)
    yield from _tableset_rows(res, ivoid)


def _capability_rows(res, ivoid):
    intf_index = 0
    for cap_index, cap in enumerate(res.iterfind("capability"), 1):
        yield "capability", {
            "ivoid": ivoid, "cap_index": cap_index,
            "cap_name": None, "cap_type": _xsi_type(cap),
            "cap_description": _text(cap, "description"),
            "standard_id": _lower(cap.get("standardID"))}
        for dm in cap.iterfind("dataModel"):
            yield "res_detail", {
                "ivoid": ivoid, "cap_index": cap_index,
                "detail_xpath": "/capability/dataModel/@ivo-id",
                "detail_value": _lower(dm.get("ivo-id"))}
        for tag in ("maxSR", "maxRecords", "testQuery/ra", "testQuery/dec",
                    "testQuery/sr"):
            value = _text(cap, tag)
            if value is not None:
                yield "res_detail", {
                    "ivoid": ivoid, "cap_index": cap_index,
                    "detail_xpath": "/capability/" + tag,
                    "detail_value": value}
        for intf in cap.iterfind("interface"):
            intf_index += 1
            url = intf.find("accessURL")
            yield "interface", {
                "ivoid": ivoid, "cap_index": cap_index,
                "intf_index": intf_index,
                "intf_type": _xsi_type(intf),
                "intf_role": intf.get("role"),
                "std_version": intf.get("version"),
                "query_type": _text(intf, "queryType"),
                "result_type": _text(intf, "resultType"),
                "url_use": url.get("use") if url is not None else None,
                "access_url": _text(intf, "accessURL"),
                "authenticated_only": 0}


def _tableset_rows(res, ivoid):
    table_index = 0
    for schema_index, schema in enumerate(res.iterfind("tableset/schema"), 1):
        yield "res_schema", {
            "ivoid": ivoid, "schema_index": schema_index,
            "schema_name": _text(schema, "name"),
            "schema_title": _text(schema, "title"),
            "schema_description": _text(schema, "description"),
            "schema_utype": _text(schema, "utype")}
        for table in schema.iterfind("table"):
            table_index += 1
            yield "res_table", {
                "ivoid": ivoid, "schema_index": schema_index,
                "table_index": table_index,
                "table_name": _text(table, "name"),
                "table_title": _text(table, "title"),
                "table_description": _text(table, "description"),
                "table_utype": _lower(_text(table, "utype")),
                "table_type": table.get("type")}
            for col in table.iterfind("column"):
                dtype = col.find("dataType")
                yield "table_column", {
                    "ivoid": ivoid, "table_index": table_index,
                    "name": _text(col, "name"), "ucd": _text(col, "ucd"),
                    "unit": _text(col, "unit"), "utype": _text(col, "utype"),
                    "datatype": _lower(dtype.text) if dtype is not None else None,
                    "arraysize": dtype.get("arraysize") if dtype is not None else None,
                    "column_description": _text(col, "description")}


class RowIterator(CustomRowIterator):
    """Yields (role, row) for every RegTAP table from the OAI-PMH records."""

    def _iterRows(self):  # noqa: N802 - the name DaCHS calls
        url = base.getConfig("web", "serverURL").rstrip("/") + "/oai.xml"
        for res in _records(url):
            yield from _resource_rows(res, url)
