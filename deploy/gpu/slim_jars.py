#!/usr/bin/env python3
"""Shrinks jars to the packages a JVM run loaded classes from, for the GPU check bundle's job test.

Usage: slim_jars.py CLASS_LOAD_LOG OUT_DIR JAR...
CLASS_LOAD_LOG is the output of -Xlog:class+load=info of a run of the same test on the CPU. For each JAR every
class of a package that run loaded at least one class from is kept (so other classes of a code path that ran
stay), with every non-class entry (services, configs, native libraries of linux x86-64); packages it never
touched are dropped. The copies are written STORED (uncompressed) so that one xz stream over the whole bundle
compresses across jars. A jar holding a nested jar that the run extracted to /tmp (Flink's RPC loader) gets
that nested jar slimmed the same way.
"""
import os
import re
import sys
import zipfile
import io

NATIVE_OTHER = re.compile(r"(aarch64|arm|ppc|s390|riscv|loongarch|darwin|mac|osx|windows|win32|win64|freebsd|sunos|aix"
                          r"|x86(?!_64)|i386|i686)", re.I)


def loaded_packages(log):
    by_source = {}
    pattern = re.compile(r"\]\s+(\S+) source: (?:file:|jar:file:)?(\S+)")
    with open(log) as f:
        for line in f:
            m = pattern.search(line)
            if not m:
                continue
            cls, src = m.group(1), m.group(2)
            pkg = cls.rsplit(".", 1)[0].replace(".", "/") if "." in cls else ""
            by_source.setdefault(src, set()).add(pkg)
    return by_source


def slim(data, packages):
    out = io.BytesIO()
    kept = dropped = 0
    with zipfile.ZipFile(io.BytesIO(data)) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as zout:
        for info in zin.infolist():
            name = info.filename
            if name.endswith(".class") and not name.startswith("META-INF/versions/"):
                pkg = name.rsplit("/", 1)[0] if "/" in name else ""
                if pkg not in packages:
                    dropped += 1
                    continue
            elif name.endswith(".class"):
                # multi-release classes: META-INF/versions/N/pkg/Cls.class
                rest = name.split("/", 3)[3]
                pkg = rest.rsplit("/", 1)[0] if "/" in rest else ""
                if pkg not in packages:
                    dropped += 1
                    continue
            elif re.search(r"\.(so|dll|dylib|jnilib)$", name) and NATIVE_OTHER.search(name):
                dropped += 1
                continue
            body = zin.read(info)
            if name.startswith("META-INF/services/javax.xml."):
                # Hadoop's shaded Woodstox would replace the JDK's StAX for everyone (JUnit's XML reports too)
                dropped += 1
                continue
            if name.startswith("META-INF/services/") and not name.endswith("/"):
                # keep only providers whose classes stay: a ServiceLoader that finds a dropped class fails
                lines = body.decode("utf-8", "replace").splitlines()
                kept_lines = [l for l in lines if not l.split("#")[0].strip()
                              or l.split("#")[0].strip().rsplit(".", 1)[0].replace(".", "/") in packages]
                if not any(l.split("#")[0].strip() for l in kept_lines):
                    dropped += 1
                    continue
                body = ("\n".join(kept_lines) + "\n").encode()
            yield_info = zipfile.ZipInfo(name, date_time=info.date_time)
            yield_info.external_attr = info.external_attr
            zout.writestr(yield_info, body, compress_type=zipfile.ZIP_STORED)
            kept += 1
    return out.getvalue(), kept, dropped


def main():
    log, out_dir, jars = sys.argv[1], sys.argv[2], sys.argv[3:]
    by_source = loaded_packages(log)
    nested = {os.path.basename(s): pk for s, pk in by_source.items() if s.startswith("/tmp/")}
    os.makedirs(out_dir, exist_ok=True)
    for jar in jars:
        packages = by_source.get(jar, set())
        with open(jar, "rb") as f:
            data = f.read()
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            inner = [n for n in z.namelist() if n.endswith(".jar") and "/" not in n]
        if inner and nested:
            # the RPC loader: slim its nested jar by the classes loaded from the extracted copy
            inner_pk = set().union(*nested.values())
            buf = io.BytesIO()
            with zipfile.ZipFile(io.BytesIO(data)) as zin, zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zout:
                for info in zin.infolist():
                    body = zin.read(info)
                    if info.filename in inner:
                        body, k, d = slim(body, inner_pk)
                        print(f"  nested {info.filename}: kept {k}, dropped {d}")
                    elif info.filename.endswith(".class"):
                        pkg = info.filename.rsplit("/", 1)[0]
                        if pkg not in packages:
                            continue
                    zout.writestr(zipfile.ZipInfo(info.filename, date_time=info.date_time), body)
            slimmed = buf.getvalue()
        else:
            slimmed, k, d = slim(data, packages)
        target = os.path.join(out_dir, os.path.basename(jar))
        with open(target, "wb") as f:
            f.write(slimmed)
        print(f"{os.path.basename(jar)}: {len(data) // 1024} KiB -> {len(slimmed) // 1024} KiB stored")


if __name__ == "__main__":
    main()
