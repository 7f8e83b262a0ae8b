#!/usr/bin/env python3
"""tests/gcprof/page.py SECTIONS: writes to stdout a generated HTML page of SECTIONS
sections (headings, paragraphs, tables, links) for w3m -dump to render in
tests/integration/gcprof.sh. Deterministic: the same SECTIONS give the same page."""
import random
import sys

rng = random.Random(1)
words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"]
out = ["<html><head><title>gcprof test page</title></head><body>"]
for i in range(int(sys.argv[1])):
    text = " ".join(rng.choice(words) for _ in range(30))
    out.append(f"<h2>Section {i}</h2><p>{text}</p>"
               f"<table border=1><tr><td>{i}</td><td><a href=\"x{i}.html\">link {i}</a></td>"
               f"<td><b>{rng.randint(0, 10**6)}</b></td></tr></table>")
out.append("</body></html>")
sys.stdout.write("\n".join(out) + "\n")
