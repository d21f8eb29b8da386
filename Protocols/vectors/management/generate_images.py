#!/usr/bin/env python3
"""Writes images.vectors: manifests and bundles of Protocols/management.md §"Images".

The listing and digest of each bundle are computed here from the specification's text, independently of the
Swift code that the tests check against them. Run from anywhere: python3 generate.py
"""
import hashlib
import io
import json
import os
import tarfile

HEADER = """# Software images (Protocols/management.md, "Images"), written by generate_images.py.
#
# Manifest vectors: `manifest` is the manifest's text; `expect` the parsed manifest as JSON
# ({name, version, launch, digest}), or `error` the ImageError code. `repeat` (when present) is a number of
# times the manifest text is repeated, to build one over the size limit.
#
# Bundle vectors: `image` is the manifest's {name, version, launch} (the listing's header); `files` is a JSON
# array of entries to create under an empty directory, each
# {"path", "type": "file"|"dir"|"symlink"|"fifo", "text"? (file content, UTF-8), "exec"? (owner-executable),
# "target"? (a symlink's target)}; `listing` the content listing as a JSON string; `expect` its SHA-256
# (the content digest), or `error` the ImageError code of the refusal.
#
# Tar vectors: `tar` is a ustar archive in hex; `image` the manifest header as above; `expect` the content
# digest of what it unpacks to (the same as the directory bundle with the same files), or `error` the
# ImageError code of the refusal.
"""

DIGEST = "0" * 64


def manifest(name, text, expect=None, error=None, repeat=None):
    out = [f"name: {name}", f"manifest: {text}"]
    if repeat:
        out.append(f"repeat: {repeat}")
    if expect is not None:
        out.append("expect: " + json.dumps(expect, separators=(", ", ": ")))
    if error:
        out.append(f"error: {error}")
    return "\n".join(out)


def header(image):
    out = f"N {image['name']}\nV {image['version']}\n"
    return out + "".join(f"A {arg.encode().hex()}\n" for arg in image["launch"])


def listing(files):
    lines = []
    for entry in files:
        if entry["path"] == "manifest.json":
            continue
        if entry["type"] == "dir":
            lines.append((entry["path"].encode(), f"D {entry['path']}\n"))
        else:
            data = entry.get("text", "").encode()
            mode = "x" if entry.get("exec") else "-"
            lines.append(
                (entry["path"].encode(),
                 f"F {mode} {len(data)} {hashlib.sha256(data).hexdigest()} {entry['path']}\n"))
    return "".join(line for _, line in sorted(lines))


IMAGE = {"name": "linux-guest", "version": 2, "launch": ["bin/run", "--verbose"]}


def bundle(name, files, error=None, image=IMAGE):
    out = [f"name: {name}", "image: " + json.dumps(image), "files: " + json.dumps(files)]
    if error:
        out.append(f"error: {error}")
    else:
        text = header(image) + listing(files)
        out.append("listing: " + json.dumps(text))
        out.append("expect: " + hashlib.sha256(text.encode()).hexdigest())
    return "\n".join(out)


def tar_bytes(members, corrupt=None, cut=None, fmt=tarfile.USTAR_FORMAT):
    """A ustar archive of (name, type, data, mode, linkname) members."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=fmt) as archive:
        for name, kind, data, mode, link in members:
            info = tarfile.TarInfo(name)
            info.type, info.mode, info.mtime, info.linkname = kind, mode, 0, link
            info.uname = info.gname = ""
            info.size = len(data) if kind == tarfile.REGTYPE else 0
            archive.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)
    data = bytearray(out.getvalue())
    # Drop the record padding after the end-of-archive blocks: keep the entries and two zero blocks.
    used = len(data.rstrip(b"\0"))
    data = data[:(used + 511) // 512 * 512 + 1024]
    if corrupt is not None:
        data[corrupt] ^= 0x01
    return bytes(data[:cut] if cut else data)


def tar_vector(name, members, error=None, **options):
    out = [f"name: {name}", "image: " + json.dumps(IMAGE), "tar: " + tar_bytes(members, **options).hex()]
    if error:
        out.append(f"error: {error}")
    else:
        files = []
        for path, kind, data, mode, _ in members:
            if kind == tarfile.DIRTYPE:
                files.append({"path": path.rstrip("/"), "type": "dir"})
            elif path != "manifest.json":
                files.append({"path": path, "type": "file", "text": data.decode(), "exec": bool(mode & 0o100)})
        out.append("expect: " + hashlib.sha256((header(IMAGE) + listing(files)).encode()).hexdigest())
    return "\n".join(out)


def tar_vectors():
    d, f = tarfile.DIRTYPE, tarfile.REGTYPE
    run = ("bin/run", f, b"#!/bin/sh\nexec sleep 1000\n", 0o755, "")
    good = [("bin/", d, b"", 0o755, ""), run, ("data.txt", f, b"hello\n", 0o644, ""),
            ("manifest.json", f, b"{}", 0o644, "")]
    return [
        tar_vector("tar-simple", good),
        tar_vector("tar-empty-file-last", [("bin", d, b"", 0o755, ""), ("bin/zero", f, b"", 0o644, "")]),
        tar_vector("tar-symlink", good + [("etc", tarfile.SYMTYPE, b"", 0o777, "../../../etc")],
                   error="fileKindRefused"),
        tar_vector("tar-hardlink", good + [("copy", tarfile.LNKTYPE, b"", 0o644, "data.txt")],
                   error="fileKindRefused"),
        tar_vector("tar-fifo", [("pipe", tarfile.FIFOTYPE, b"", 0o644, "")], error="fileKindRefused"),
        tar_vector("tar-traversal", [("../evil", f, b"x", 0o644, "")], error="pathInvalid"),
        tar_vector("tar-absolute", [("/etc/evil", f, b"x", 0o644, "")], error="pathInvalid"),
        tar_vector("tar-inner-traversal", [("bin/../../evil", f, b"x", 0o644, "")], error="pathInvalid"),
        tar_vector("tar-duplicate", [("a", f, b"1", 0o644, ""), ("a", f, b"2", 0o644, "")], error="tarInvalid"),
        tar_vector("tar-bad-checksum", good, error="tarInvalid", corrupt=3),
        tar_vector("tar-truncated", good, error="tarInvalid", cut=512 * 3 + 7),
        tar_vector("tar-pax-header", [("x" * 120, f, b"long", 0o644, "")], error="fileKindRefused",
                   fmt=tarfile.PAX_FORMAT),
    ]


def main():
    good = {"name": "linux-guest", "version": 2, "launch": ["bin/run", "--verbose"], "digest": DIGEST}
    vectors = [
        manifest("manifest-valid", json.dumps(good), expect=good),
        manifest("manifest-version-zero", json.dumps(dict(good, version=0)), expect=dict(good, version=0)),
        manifest("manifest-not-json", "{name: 1}", error="manifestInvalid"),
        manifest("manifest-not-object", "[1, 2]", error="manifestInvalid"),
        manifest("manifest-unknown-key", json.dumps(dict(good, extra=1)), error="manifestInvalid"),
        manifest("manifest-missing-digest", json.dumps({k: v for k, v in good.items() if k != "digest"}),
                 error="manifestInvalid"),
        manifest("manifest-uppercase-digest", json.dumps(dict(good, digest="A" * 64)), error="manifestInvalid"),
        manifest("manifest-short-digest", json.dumps(dict(good, digest="0" * 63)), error="manifestInvalid"),
        manifest("manifest-negative-version", json.dumps(dict(good, version=-1)), error="manifestInvalid"),
        manifest("manifest-huge-version", json.dumps(dict(good, version=2 ** 53)), error="manifestInvalid"),
        manifest("manifest-fraction-version", json.dumps(dict(good, version=1.5)), error="manifestInvalid"),
        manifest("manifest-string-version", json.dumps(dict(good, version="2")), error="manifestInvalid"),
        manifest("manifest-bad-name", json.dumps(dict(good, name="../etc")), error="manifestInvalid"),
        # The name is a directory's name under optional/: never `.`, `..` or hidden (the hub's staging names).
        manifest("manifest-name-dot", json.dumps(dict(good, name=".")), error="manifestInvalid"),
        manifest("manifest-name-dot-dot", json.dumps(dict(good, name="..")), error="manifestInvalid"),
        manifest("manifest-name-hidden", json.dumps(dict(good, name=".incoming-maps")), error="manifestInvalid"),
        manifest("manifest-name-inner-dots", json.dumps(dict(good, name="maps..v2.")),
                 expect=dict(good, name="maps..v2.")),
        manifest("manifest-empty-launch", json.dumps(dict(good, launch=[])), error="manifestInvalid"),
        manifest("manifest-too-many-arguments", json.dumps(dict(good, launch=["a"] * 65)), error="manifestInvalid"),
        manifest("manifest-absolute-launch", json.dumps(dict(good, launch=["/bin/sh"])), error="pathInvalid"),
        manifest("manifest-traversal-launch", json.dumps(dict(good, launch=["bin/../../sh"])), error="pathInvalid"),
        manifest("manifest-dot-launch", json.dumps(dict(good, launch=["./run"])), error="pathInvalid"),
        manifest("manifest-empty-component", json.dumps(dict(good, launch=["bin//run"])), error="pathInvalid"),
        manifest("manifest-control-byte", json.dumps(dict(good, launch=["bin/r\nun"])), error="pathInvalid"),
        manifest("manifest-deep", json.dumps(dict(good, name={"a": {"b": {"c": {"d": 1}}}})), error="manifestInvalid"),
        manifest("manifest-too-large", "x" * 1024, error="manifestTooLarge", repeat=17),
    ]
    run = {"path": "bin/run", "type": "file", "text": "#!/bin/sh\nexec sleep 1000\n", "exec": True}
    vectors += [
        bundle("bundle-simple", [{"path": "bin", "type": "dir"}, run,
                                 {"path": "data.txt", "type": "file", "text": "hello\n"}]),
        bundle("bundle-empty-dir-and-empty-file", [{"path": "empty", "type": "dir"},
                                                  {"path": "zero", "type": "file", "text": ""}]),
        bundle("bundle-manifest-excluded", [{"path": "manifest.json", "type": "file", "text": "{}"},
                                           {"path": "a", "type": "file", "text": "a"}]),
        bundle("bundle-sort-by-bytes", [{"path": "a-b", "type": "file", "text": "1"}, {"path": "a", "type": "dir"},
                                        {"path": "a/b", "type": "file", "text": "2"},
                                        {"path": "B", "type": "file", "text": "3"}]),
        bundle("bundle-same-files-other-version", [{"path": "bin", "type": "dir"}, run],
               image=dict(IMAGE, version=3)),
        bundle("bundle-same-files-other-launch", [{"path": "bin", "type": "dir"}, run],
               image=dict(IMAGE, launch=["bin/run", "--unsafe\nmode é"])),
        bundle("bundle-nested-manifest-counts", [{"path": "sub", "type": "dir"},
                                                {"path": "sub/manifest.json", "type": "file", "text": "{}"}]),
        bundle("bundle-symlink-escaping", [{"path": "etc", "type": "symlink", "target": "../../../etc"}],
               error="fileKindRefused"),
        bundle("bundle-symlink-inside", [{"path": "a", "type": "file", "text": "a"},
                                         {"path": "b", "type": "symlink", "target": "a"}], error="fileKindRefused"),
        bundle("bundle-fifo", [{"path": "pipe", "type": "fifo"}], error="fileKindRefused"),
        bundle("bundle-control-byte-name", [{"path": "bad\nname", "type": "file", "text": "x"}],
               error="pathInvalid"),
    ]
    vectors += tar_vectors()
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "images.vectors")
    with open(path, "w") as out:
        out.write(HEADER + "\n" + "\n\n".join(vectors) + "\n")


if __name__ == "__main__":
    main()
