#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpora into fuzz/corpus/<target>/ (git-ignored).

Seeds come from the checked-in fuzz/seeds/<target>/ and from the definitions in the shared
conformance corpus (Apache-2.0 data: asl-validator's labelled definitions and LocalStack's
AWS-recorded executions), found at $STEPPE_SHARED/conformance or ../shared/conformance.
From each definition it takes: the whole text (definition), every path (jsonpath), every
intrinsic call (intrinsic), every Parameters-style template (template), every Choice rule
(choice) and every timestamp (timestamp). Each seed is one file named by its SHA-1, so
running the script twice changes nothing.

Usage: python3 fuzz/seed-corpus.py [--max-per-target N]
"""

import argparse
import hashlib
import json
import os
import pathlib
import sys

FUZZ = pathlib.Path(__file__).resolve().parent
TARGETS = ["definition", "jsonpath", "intrinsic", "jsonata", "template", "choice", "timestamp"]
TEMPLATE_KEYS = {"Parameters", "ResultSelector", "ItemSelector", "Arguments", "Assign", "Output"}
TIMESTAMP_KEYS = {
    "Timestamp",
    "TimestampEquals",
    "TimestampLessThan",
    "TimestampGreaterThan",
    "TimestampLessThanEquals",
    "TimestampGreaterThanEquals",
}


def shared_dir():
    env = os.environ.get("STEPPE_SHARED")
    candidates = [pathlib.Path(env) / "conformance"] if env else []
    candidates.append(FUZZ.parent.parent / "shared" / "conformance")
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    return None


def definitions(shared):
    """Yields every definition's text in the shared corpus."""
    for path in sorted((shared / "asl-validator").glob("*.json")):
        yield path.read_text(encoding="utf-8", errors="replace")
    for path in sorted((shared / "localstack" / "executions").rglob("*.json")):
        try:
            case = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError):
            continue
        text = case.get("definition_text")
        if isinstance(text, str):
            yield text
        elif isinstance(case.get("definition"), dict):
            yield json.dumps(case["definition"])


def walk(value, seeds):
    """Collects path, intrinsic, template, choice and timestamp seeds from one JSON value."""
    if isinstance(value, dict):
        for key, child in value.items():
            if key in TEMPLATE_KEYS and isinstance(child, (dict, list)):
                seeds["template"].add(json.dumps(child))
            if key == "Choices" and isinstance(child, list):
                for rule in child:
                    seeds["choice"].add(json.dumps(rule))
            if key in TIMESTAMP_KEYS and isinstance(child, str):
                seeds["timestamp"].add(child)
            if isinstance(child, str):
                if child.startswith("States."):
                    seeds["intrinsic"].add(child)
                elif child.startswith("$"):
                    seeds["jsonpath"].add(child)
            walk(child, seeds)
    elif isinstance(value, list):
        for child in value:
            walk(child, seeds)


def write(target, texts, limit):
    out = FUZZ / "corpus" / target
    out.mkdir(parents=True, exist_ok=True)
    written = 0
    for text in sorted(texts)[:limit]:
        data = text.encode("utf-8", errors="replace")
        (out / hashlib.sha1(data).hexdigest()).write_bytes(data)
        written += 1
    return written


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-per-target", type=int, default=2000)
    args = parser.parse_args()
    seeds = {target: set() for target in TARGETS}
    for target in TARGETS:
        for path in sorted((FUZZ / "seeds" / target).glob("*")):
            seeds[target].add(path.read_bytes().decode("utf-8", errors="replace"))
    shared = shared_dir()
    if shared is None:
        print("no shared conformance corpus found; using fuzz/seeds only", file=sys.stderr)
    else:
        for text in definitions(shared):
            seeds["definition"].add(text)
            try:
                walk(json.loads(text), seeds)
            except json.JSONDecodeError:
                pass
    for target in TARGETS:
        count = write(target, seeds[target], args.max_per_target)
        print(f"fuzz/corpus/{target}: {count} seeds")


if __name__ == "__main__":
    main()
