#!/usr/bin/env python3
"""Write the fuzzers' generated inputs: OUT/seeds/<decoder>/ (small valid inputs, a few KB each)
and OUT/corpus/avro/ (the Avro inputs that once broke the decoder, rebuilt here from what broke
it, minimised). The build runs this into its own directory; nothing it writes is kept in git.

Usage: tests/fuzz/gen_inputs.py OUT [SCHEMA_DIR]

Avro seeds are encoded here (a minimal Avro binary encoder, no dependencies): containers of a
ZTF-like schema (the one tests/test_avro.c uses) with each codec and several blocks, and, when
SCHEMA_DIR (default ../shared/data/schemas/lsst beside the project) holds Rubin's 7/4 schemas, a
Confluent-framed lsst.v7_4 message whose values are made up here. Only the values are written:
no schema text or data from the shared folder is copied.
"""
import hashlib
import json
import os
import struct
import sys
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = None  # set by main()

ZTF_SCHEMA = {
    "type": "record", "name": "topLevelRecord", "fields": [
        {"name": "objectId", "type": "string"},
        {"name": "candidate", "type": {"type": "record", "name": "r1", "fields": [
            {"name": "candid", "type": "long"}, {"name": "jd", "type": "double"},
            {"name": "ra", "type": "double"}, {"name": "dec", "type": "double"},
            {"name": "fid", "type": "int"}, {"name": "magpsf", "type": "float"},
            {"name": "sigmapsf", "type": "float"},
            {"name": "diffmaglim", "type": ["null", "float"]},
            {"name": "rb", "type": ["null", "float"]}]}},
        {"name": "prv_candidates", "type": ["null", {"type": "array", "items": {
            "type": "record", "name": "r2", "fields": [
                {"name": "candid", "type": ["null", "long"]}, {"name": "jd", "type": "double"},
                {"name": "fid", "type": "int"}, {"name": "pid", "type": "long"},
                {"name": "diffmaglim", "type": ["null", "float"]}]}}]}]}


def long(v):
    v = (v << 1) ^ (v >> 63)
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def string(b):
    if isinstance(b, str):
        b = b.encode()
    return long(len(b)) + b


class Encoder:
    """Encodes Python values by a parsed-JSON schema. Unions take (branch, value)."""

    def __init__(self):
        self.named = {}

    def encode(self, schema, value):
        if isinstance(schema, list):
            branch, inner = value
            return long(branch) + self.encode(schema[branch], inner)
        if isinstance(schema, str):
            if schema in self.named:
                return self.encode(self.named[schema], value)
            t = schema
        else:
            t = schema["type"]
            if t in ("record", "enum", "fixed") and "name" in schema:
                self.named.setdefault(schema["name"], schema)
                ns = schema.get("namespace")
                if ns:
                    self.named.setdefault(ns + "." + schema["name"], schema)
        if t == "null":
            return b""
        if t == "boolean":
            return b"\x01" if value else b"\x00"
        if t in ("int", "long"):
            return long(value)
        if t == "float":
            return struct.pack("<f", value)
        if t == "double":
            return struct.pack("<d", value)
        if t in ("string", "bytes"):
            return string(value)
        if t == "record":
            return b"".join(self.encode(f["type"], value[f["name"]]) for f in schema["fields"])
        if t == "array":
            body = b"".join(self.encode(schema["items"], v) for v in value)
            return (long(len(value)) + body if value else b"") + long(0)
        if t == "map":
            body = b"".join(string(k) + self.encode(schema["values"], v) for k, v in value.items())
            return (long(len(value)) + body if value else b"") + long(0)
        if t == "enum":
            return long(schema["symbols"].index(value))
        if t == "fixed":
            return value
        raise ValueError("type %r" % (t,))


def ztf_record(i, history=True):
    prv = [{"candid": (0, None), "jd": 2460000.0 + i, "fid": 2, "pid": 777 + i,
            "diffmaglim": (1, 20.25)},
           {"candid": (1, 5000 + i), "jd": 2459999.5 + i, "fid": 1, "pid": 778 + i,
            "diffmaglim": (0, None)}]
    return {"objectId": "ZTF24seed%04d" % i,
            "candidate": {"candid": 1000 + i, "jd": 2460000.5 + i, "ra": 10.0 + i * 0.25,
                          "dec": -5.0 + i * 0.125, "fid": 1 + i % 3, "magpsf": 18.5,
                          "sigmapsf": 0.125, "diffmaglim": (1, 20.5), "rb": (0, None)},
            "prv_candidates": (1, prv) if history else (0, None)}


def snappy_literal(data):
    """Snappy raw format with literals only: valid input for any snappy decoder."""
    out = bytearray()
    n = len(data)
    while True:  # the uncompressed length, varint
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            break
    for i in range(0, len(data), 60):
        chunk = data[i:i + 60]
        out.append((len(chunk) - 1) << 2)
        out += chunk
    return bytes(out)


def container(schema, records, codec, per_block, name):
    enc = Encoder()
    sync = hashlib.md5(name.encode()).digest()
    meta = [("avro.schema", json.dumps(schema, separators=(",", ":"))), ("avro.codec", codec)]
    out = bytearray(b"Obj\x01")
    out += long(len(meta)) + b"".join(string(k) + string(v) for k, v in meta) + long(0)
    out += sync
    for at in range(0, len(records), per_block):
        block = records[at:at + per_block]
        data = b"".join(enc.encode(schema, r) for r in block)
        if codec == "deflate":
            z = zlib.compressobj(9, zlib.DEFLATED, -15)
            data = z.compress(data) + z.flush()
        elif codec == "snappy":
            data = snappy_literal(data) + struct.pack(">I", zlib.crc32(data) & 0xFFFFFFFF)
        out += long(len(block)) + long(len(data)) + data + sync
    return bytes(out)


def compose(schema_dir, major, minor):
    """Rubin's alert schema with its named types inlined at first use (as skysieve does)."""
    d = os.path.join(schema_dir, str(major), str(minor))
    ns = "lsst.v%d_%d" % (major, minor)
    files = {}
    for f in os.listdir(d):
        if f.endswith(".avsc"):
            with open(os.path.join(d, f)) as fh:
                files[f[:-5]] = json.load(fh)
    seen = set()

    def walk(t):
        if isinstance(t, str):
            if t in files and t not in seen and t != ns + ".alert":
                seen.add(t)
                return walk(files[t])
            return t
        if isinstance(t, list):
            return [walk(x) for x in t]
        t = dict(t)
        if t.get("type") == "record":
            t["fields"] = [dict(f, type=walk(f["type"])) for f in t["fields"]]
        elif t.get("type") == "array":
            t["items"] = walk(t["items"])
        elif t.get("type") == "map":
            t["values"] = walk(t["values"])
        return t

    return walk(files[ns + ".alert"])


LSST_VALUES = {"alertId": 42, "diaSourceId": 4242, "diaObjectId": 99, "ra": 150.125,
               "dec": 2.25, "decl": 2.25, "midpointMjdTai": 60400.5, "midPointTai": 60400.5,
               "band": "r", "filterName": "r", "psfFlux": 12345.5, "psfFluxErr": 120.25,
               "psFlux": 12345.5, "psFluxErr": 120.25, "diaNoise": 100.0, "visit": 7,
               "detector": 3}


def lsst_value(schema, name, named):
    """A made-up value of @p schema: known fields get alert-like values, others small ones."""
    if isinstance(schema, list):
        for i, b in enumerate(schema):
            if b == "null":
                if name in LSST_VALUES:
                    continue
                return (i, None)
        i = next(i for i, b in enumerate(schema) if b != "null")
        return (i, lsst_value(schema[i], name, named))
    t = schema if isinstance(schema, str) else schema["type"]
    if isinstance(schema, str) and schema in named:
        return lsst_value(named[schema], name, named)
    if isinstance(schema, dict) and "name" in schema:
        named[schema["name"]] = schema
        if schema.get("namespace"):
            named[schema["namespace"] + "." + schema["name"]] = schema
    if name in LSST_VALUES and t not in ("record", "array"):
        return LSST_VALUES[name]
    if t == "record":
        return {f["name"]: lsst_value(f["type"], f["name"], named) for f in schema["fields"]}
    if t == "array":
        return []
    if t == "map":
        return {}
    return {"null": None, "boolean": False, "int": 1, "long": 1, "float": 0.5, "double": 0.5,
            "string": "s", "bytes": b""}.get(t, b"" if t == "fixed" else None)


def write(sub, name, data):
    os.makedirs(os.path.join(OUT, sub), exist_ok=True)
    with open(os.path.join(OUT, sub, name), "wb") as f:
        f.write(data)


def header(schema_json, sync):
    """A container header holding only the schema (codec null by default)."""
    return (b"Obj\x01" + long(1) + string("avro.schema") + string(schema_json) + long(0) + sync)


def with_objectid_length(length):
    """A one-record ZTF-like container whose objectId claims @p length bytes: avro-c allocated
    whatever a string length said (a negative one wraps to 2^64 - 7,705 bytes), so the decoder
    checks every record against its schema first."""
    rec = Encoder().encode(ZTF_SCHEMA, ztf_record(0, history=False))
    name = long(len("ZTF24seed0000")) + b"ZTF24seed0000"
    data = long(length) + rec[len(name):]
    sync = hashlib.md5(b"alloc").digest()
    body = long(1) + long(len(data)) + data + sync
    return header(json.dumps(ZTF_SCHEMA, separators=(",", ":")), sync) + body


def recursive_schema():
    """ZTF_SCHEMA with a linked list and a tree of its own records: recursion a union branch or
    an array ends, which the decoder must accept (and the fuzzer can mutate into one that does
    not end)."""
    schema = json.loads(json.dumps(ZTF_SCHEMA))
    node = {"type": "record", "name": "node", "fields": [
        {"name": "id", "type": "long"}, {"name": "next", "type": ["null", "node"]},
        {"name": "kids", "type": {"type": "array", "items": "node"}}]}
    schema["fields"].append({"name": "links", "type": ["null", node]})
    return schema


def recursive_record(i):
    rec = ztf_record(i)
    leaf = {"id": 3, "next": (0, None), "kids": []}
    rec["links"] = (1, {"id": 1, "next": (1, {"id": 2, "next": (0, None), "kids": [leaf]}),
                        "kids": [leaf, leaf]})
    return rec


def endless_schemas():
    """Schemas avro-c cannot instantiate (it overflowed the stack building a value of one):
    each is refused by name before avro-c sees it. @return (name, schema JSON) pairs."""
    def rec(name, fields):
        return {"type": "record", "name": name, "fields": fields}
    deep = "int"
    for i in range(70):
        deep = rec("d%d" % i, [{"name": "f", "type": deep}])
    # the same depth through names: each record beside the others, a field naming the one before
    chain = rec("top", [{"name": "f%d" % i, "type": rec("d%d" % i, [
        {"name": "x", "type": "d%d" % (i - 1) if i else "int"}])} for i in range(70)])
    return [
        # 63 bytes: a record with a required field of its own type
        ("record-contains-itself", rec("a", [{"name": "x", "type": "a"}])),
        ("records-contain-each-other", rec("top", [{"name": "y", "type": rec(
            "b", [{"name": "z", "type": rec("c", [{"name": "w", "type": "b"}])}])}])),
        ("union-of-only-itself", rec("u", [{"name": "x", "type": ["u"]}])),
        ("nested-70-deep", deep),
        ("records-chained-by-name-70-deep", chain),
    ]


def write_corpus():
    # The header's metadata map claims 3 entries and ends: a key was read, its value was not,
    # and the key leaked.
    write("corpus/avro", "leak-header-key-when-value-unreadable.avro", b"Obj\x01\x06\x00")
    # avro-c's schema parser leaks what it built when a record name is defined twice (avro-c's
    # bug, suppressed by name in the tests); the decoder must refuse the file and leak nothing.
    twice = '{"type":"record","name":"a","fields":[{"name":"x","type":{"type":"record",' \
            '"name":"a","fields":[]}}]}'
    write("corpus/avro", "avro-c-leak-record-name-defined-twice.avro",
          header(twice, b"0123456789abcdef"))
    write("corpus/avro", "avro-c-alloc-negative-string-length.avro", with_objectid_length(-7705))
    write("corpus/avro", "avro-c-alloc-6GB-string-length.avro",
          with_objectid_length(6_700_000_000))
    for name, schema in endless_schemas():
        write("corpus/avro", "avro-c-stack-overflow-%s.avro" % name,
              header(json.dumps(schema, separators=(",", ":")), b"0123456789abcdef"))


def main():
    global OUT
    if len(sys.argv) < 2:
        sys.exit("usage: gen_inputs.py OUT [SCHEMA_DIR]")
    OUT = sys.argv[1]
    write_corpus()
    records = [ztf_record(i, history=i % 2 == 0) for i in range(5)]
    for codec in ("null", "deflate", "snappy"):
        write("seeds/avro", "ztf-%s-3-blocks.avro" % codec,
              container(ZTF_SCHEMA, records, codec, 2, "ztf-%s" % codec))
    write("seeds/avro", "ztf-one-record.avro", container(ZTF_SCHEMA, records[:1], "null", 1, "one"))
    write("seeds/avro", "ztf-recursive-schema.avro",
          container(recursive_schema(), [recursive_record(i) for i in range(2)], "null", 1, "rec"))
    schema_dir = sys.argv[2] if len(sys.argv) > 2 else os.path.join(
        HERE, "..", "..", "..", "shared", "data", "schemas", "lsst")
    if os.path.isdir(os.path.join(schema_dir, "7", "4")):
        schema = compose(schema_dir, 7, 4)
        value = lsst_value(schema, "", {})
        write("seeds/avro", "lsst-v7_4-framed-id704.avro",
              b"\x00" + struct.pack(">I", 704) + Encoder().encode(schema, value))
    else:
        print("no Rubin schemas in %s: the framed seed is not written" % schema_dir)

    write("seeds/csv", "detections.csv",
          b"ra,dec,mjd,passband,mag,magerr,alert_id,object_id,flux\n"
          b"10.5,-5.25,60000.5,g,18.5,0.1,a1,obj1,12.5\n"
          b"10.5000001,-5.25,60001.5,r,18.25,0.125,a2,obj1,true\n")
    write("seeds/csv", "upper-limit-and-quotes.csv",
          b"\xef\xbb\xbfRA,Dec,MJD,passband,mag,magerr,maglim,note\r\n"
          b"359.999,89.5,59000,i,,,20.5,\"a \"\"quoted\"\"\nnote\"\r\n"
          b"0,-90,59001,z,19,0.2,,plain\r\n")
    write("seeds/csv", "tabs.tsv",
          b"ra\tdec\tmjd\tpassband\tmag\tmagerr\tsurvey\n"
          b"150.1\t2.2\t60400.25\tr\t21.5\t0.3\tmysurvey\n")
    write("seeds/jsonl", "detections.jsonl",
          b'{"ra": 10.5, "dec": -5.25, "mjd": 60000.5, "passband": "g", "mag": 18.5, '
          b'"magerr": 0.1, "alert_id": "a1", "object_id": 12, "extra": {"k": [1, 2]}}\n'
          b'{"ra": "10.5", "dec": "-5.25", "mjd": 60001, "passband": "r", "maglim": 20.5, '
          b'"flag": true, "note": null, "x": 1.5}\n')
    write("seeds/jsonl", "bom-crlf-blank.jsonl",
          b'\xef\xbb\xbf{"RA": 1, "Dec": 2, "MJD": 59000, "Passband": "i", "mag": 19, '
          b'"magerr": 0.5, "survey": "mine"}\r\n\r\n'
          b'{"ra": 359.5, "dec": -89.5, "mjd": 59001, "passband": "z", "maglim": "21"}\r\n')

    write_ingest_seeds()


def write_ingest_seeds():
    """fuzz_ingest's seeds: every decoder's seed behind the byte that picks its format (0 csv,
    1 jsonl, 2 detected from the content), with rows the validator rejects, so that the rejected
    table is written from the first run."""
    pick = {"csv": b"\x00", "jsonl": b"\x01", "avro": b"\x02"}
    for decoder, byte in pick.items():
        folder = os.path.join(OUT, "seeds", decoder)
        for name in sorted(os.listdir(folder)):
            with open(os.path.join(folder, name), "rb") as f:
                write("seeds/ingest", decoder + "-" + name, byte + f.read())
    write("seeds/ingest", "csv-rejected-rows.csv",
          b"\x00ra,dec,mjd,passband,mag,magerr,alert_id\n"
          b"400,0,60000,g,18,0.1,a1\n"
          b"1,2,60000,g,,,a2\n"
          b"1,2,60000,g,18,0.1," + b"x" * 129 + b"\n"
          b"1,2,60000,g,18,0.1,ZTF\x01ctl\n"
          b"1,2,60000,g,18,0.1,fine\n")
    write("seeds/ingest", "jsonl-rejected-rows.jsonl",
          b'\x01{"ra": 1, "dec": 95, "mjd": 60000, "passband": "g", "mag": 18, "magerr": 0.1}\n'
          b'{"ra": 1, "dec": 2, "mjd": 60000, "passband": "g", "mag": 18, "magerr": 0.1, '
          b'"alert_id": "ZTF\\u0001x"}\n'
          b'not json\n')


if __name__ == "__main__":
    main()
