"""Reader of the test-vector files in Protocols/vectors/ (format: Protocols/vectors/README.md).

    from handsethub import vectors
    for vector in vectors.load("guest/frames.vectors"):
        vector.name, vector.bytes(), vector["expect"]

Also a command for the fuzz scripts, which seed their corpora from the vectors:

    python3 -m handsethub.vectors seeds FILE.vectors OUT_DIR [--field hex] [--prefix HEX] [--escaped]

writes each vector's bytes (the hex field, or a C-escaped text field with --escaped) to OUT_DIR, one file
per vector, after the optional prefix bytes; vectors without the field, or whose field is not hex, are
skipped.
"""

import argparse
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
VECTORS = os.path.join(ROOT, "Protocols", "vectors")


class VectorFormatError(ValueError):
    pass


class Vector:
    """One vector: a name and its fields in file order (a continued field's lines joined with newlines)."""

    def __init__(self, name, line):
        self.name = name
        self.line = line
        self.fields = []

    def __getitem__(self, key):
        for k, v in self.fields:
            if k == key:
                return v
        raise KeyError(f"vector {self.name} has no field {key}")

    def get(self, key, default=None):
        try:
            return self[key]
        except KeyError:
            return default

    def __contains__(self, key):
        return any(k == key for k, _ in self.fields)

    def bytes(self, key="hex"):
        """The bytes of a hex field: whitespace between digits, `#` comments, `-` for none."""
        text = "\n".join(line.split("#", 1)[0] for line in self[key].split("\n"))
        digits = re.sub(r"[\s-]", "", text)
        if len(digits) % 2 or not re.fullmatch(r"[0-9A-Fa-f]*", digits):
            raise VectorFormatError(f"vector {self.name}: field {key} is not hex")
        return bytes.fromhex(digits)

    def escaped_bytes(self, key):
        """The bytes of a text field with C-style escapes (\\r \\n \\t \\\\ \\xHH)."""
        out = bytearray()
        data = self[key].encode()
        i = 0
        while i < len(data):
            if data[i] != 0x5C:
                out.append(data[i])
                i += 1
                continue
            code = data[i + 1:i + 2]
            simple = {b"r": 13, b"n": 10, b"t": 9, b"\\": 0x5C}
            if code in simple:
                out.append(simple[code])
                i += 2
            elif code == b"x" and re.fullmatch(rb"[0-9A-Fa-f]{2}", data[i + 2:i + 4]):
                out.append(int(data[i + 2:i + 4], 16))
                i += 4
            else:
                raise VectorFormatError(f"vector {self.name}: field {key} has a bad escape")
        return bytes(out)

    def __repr__(self):
        return f"Vector({self.name!r})"


def parse(text):
    """The vectors of a file's text, in order."""
    vectors, names, last_key = [], set(), None
    for number, line in enumerate(text.split("\n"), 1):
        line = line.rstrip("\r")
        if line.startswith("#") or line.strip() == "":
            continue
        if line[0] in " \t":
            if last_key is None or not vectors:
                raise VectorFormatError(f"line {number}: a continuation line with no field above it")
            key, value = vectors[-1].fields[-1]
            piece = line.lstrip(" \t")
            vectors[-1].fields[-1] = (key, piece if value == "" else value + "\n" + piece)
            continue
        if ":" not in line:
            raise VectorFormatError(f"line {number}: neither `key: value`, a continuation, a comment nor blank")
        key, value = line.split(":", 1)
        if value.startswith(" "):
            value = value[1:]
        if key == "name":
            if value in names:
                raise VectorFormatError(f"line {number}: vector name {value} used twice")
            names.add(value)
            vectors.append(Vector(value, number))
            last_key = None
            continue
        if not vectors:
            raise VectorFormatError(f"line {number}: a field before the first `name:`")
        vectors[-1].fields.append((key, value))
        last_key = key
    return vectors


def load(path):
    """The vectors of `Protocols/vectors/<path>` (or of an absolute path)."""
    with open(os.path.join(VECTORS, path), encoding="utf-8") as f:
        return parse(f.read())


def by_name(path):
    return {v.name: v for v in load(path)}


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python3 -m handsethub.vectors")
    sub = parser.add_subparsers(dest="command", required=True)
    seeds = sub.add_parser("seeds", help="write each vector's bytes to a corpus directory")
    seeds.add_argument("file")
    seeds.add_argument("out")
    seeds.add_argument("--field", default="hex")
    seeds.add_argument("--prefix", default="", help="hex bytes written before each vector's bytes")
    seeds.add_argument("--escaped", action="store_true", help="the field is C-escaped text, not hex")
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    prefix = bytes.fromhex(args.prefix)
    count = 0
    for vector in load(os.path.abspath(args.file)):
        if args.field not in vector:
            continue
        try:
            data = vector.escaped_bytes(args.field) if args.escaped else vector.bytes(args.field)
        except VectorFormatError:
            continue  # e.g. a +CMGS PDU that is deliberately not hex: typed text, no bytes to seed
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", vector.name)[:80]
        stem = os.path.basename(args.file).rsplit(".", 1)[0]
        with open(os.path.join(args.out, f"{stem}-{args.prefix or 'x'}-{count}-{safe}"), "wb") as f:
            f.write(prefix + data)
        count += 1
    print(f"{count} seeds from {args.file}", file=sys.stderr)


if __name__ == "__main__":
    main()
