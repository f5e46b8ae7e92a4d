"""A report as a list of blocks, rendered to Markdown and to HTML.

Blocks: ``("h1"|"h2"|"p", text)``, ``("table", headers, rows)``,
``("img", file_name, alt)``, ``("pre", text)``.  Both renderings carry the
same content; the HTML is self-contained apart from the PNGs beside it.
"""

import html


def to_markdown(blocks):
    lines = []
    for kind, *args in blocks:
        if kind == "h1":
            lines += [f"# {args[0]}", ""]
        elif kind == "h2":
            lines += [f"## {args[0]}", ""]
        elif kind == "p":
            lines += [args[0], ""]
        elif kind == "pre":
            lines += ["```", args[0], "```", ""]
        elif kind == "img":
            lines += [f"![{args[1]}]({args[0]})", ""]
        elif kind == "table":
            headers, rows = args
            lines.append("| " + " | ".join(headers) + " |")
            lines.append("|" + "|".join("---" for _ in headers) + "|")
            lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
            lines.append("")
    return "\n".join(lines)


_STYLE = (
    "body{font-family:sans-serif;max-width:70em;margin:2em auto;padding:0 1em}"
    "table{border-collapse:collapse;margin:1em 0}"
    "td,th{border:1px solid #bbb;padding:.25em .6em;text-align:right}"
    "th{background:#eee}td:first-child,th:first-child{text-align:left}"
    "img{max-width:100%}pre{background:#f6f6f6;padding:.5em}"
)


def to_html(blocks, title):
    esc = html.escape
    parts = [
        "<!DOCTYPE html>",
        "<html><head><meta charset='utf-8'>",
        f"<title>{esc(title)}</title><style>{_STYLE}</style></head><body>",
    ]
    for kind, *args in blocks:
        if kind in ("h1", "h2", "p"):
            parts.append(f"<{kind}>{esc(args[0])}</{kind}>")
        elif kind == "pre":
            parts.append(f"<pre>{esc(args[0])}</pre>")
        elif kind == "img":
            parts.append(f"<p><img src='{esc(args[0])}' alt='{esc(args[1])}'></p>")
        elif kind == "table":
            headers, rows = args
            parts.append("<table><tr>" + "".join(f"<th>{esc(h)}</th>" for h in headers) + "</tr>")
            parts += ["<tr>" + "".join(f"<td>{esc(str(c))}</td>" for c in row) + "</tr>" for row in rows]
            parts.append("</table>")
    parts.append("</body></html>")
    return "\n".join(parts)


def without_images(blocks):
    """The blocks less their images, with a line saying why after the heading."""
    kept = [b for b in blocks if b[0] != "img"]
    note = ("p", 'Plots: not drawn (matplotlib is not installed; pip install "fastlogit[report]" adds them).')
    at = 1 if kept and kept[0][0] == "h1" else 0
    return [*kept[:at], note, *kept[at:]]


def write(blocks, out_dir, title):
    """Write ``report.md`` and ``report.html`` into ``out_dir``; returns their paths."""
    md, page = out_dir / "report.md", out_dir / "report.html"
    md.write_text(to_markdown(blocks), encoding="utf-8")
    page.write_text(to_html(blocks, title), encoding="utf-8")
    return [md, page]


def seconds(t):
    """A duration with a unit a person reads at a glance."""
    if t >= 1:
        return f"{t:.2f} s"
    if t >= 1e-3:
        return f"{t * 1e3:.2f} ms"
    return f"{t * 1e6:.1f} µs"


def mib(b):
    return f"{b / 2**20:.2f} MiB"
