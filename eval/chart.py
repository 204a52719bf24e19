"""The configuration comparison chart of an evaluation run (`report.png`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

CHART_METRICS = [
    ("hit@1", "hit@1"),
    ("hit@5", "hit@5"),
    ("fact_recall@3", "facts@3"),
    ("ceiling", "ceiling"),
    ("answer_accuracy", "accuracy"),
    ("citation_precision", "citation\nprecision"),
    ("refusal_recall", "refusal\nrecall"),
]
LANGUAGES = ("ky", "ru", "en")


def write_chart(reports: list[dict[str, Any]], target: Path) -> None:
    """Draw overall metrics and per-language accuracy of each configuration side by side into a PNG."""
    import matplotlib

    matplotlib.use("Agg")  # no display on servers and in CI
    import matplotlib.pyplot as plt

    names = [rep["config"] for rep in reports]
    width = 0.8 / max(len(names), 1)
    fig, (overall, by_lang) = plt.subplots(
        1, 2, figsize=(13, 4.8), gridspec_kw={"width_ratios": [len(CHART_METRICS), len(LANGUAGES) * 2]}
    )
    for i, rep in enumerate(reports):
        offsets = [x + (i - (len(names) - 1) / 2) * width for x in range(len(CHART_METRICS))]
        bars = overall.bar(offsets, [rep["overall"][key] for key, _ in CHART_METRICS], width, label=rep["config"])
        overall.bar_label(bars, fmt="%.2f", fontsize=7, rotation=90, padding=2)
        langs = [lang for lang in LANGUAGES if lang in rep["by_language"]]
        for j, metric in enumerate(("hit@1", "answer_accuracy")):
            xs = [k * 2 + j + (i - (len(names) - 1) / 2) * width for k in range(len(langs))]
            by_lang.bar(
                xs,
                [rep["by_language"][lang][metric] for lang in langs],
                width,
                color=f"C{i}",
                alpha=1.0 if j == 0 else 0.55,
                hatch="" if j == 0 else "//",
            )
    overall.set_xticks(range(len(CHART_METRICS)), [label for _, label in CHART_METRICS], fontsize=9)
    overall.set_ylim(0, 1.25)
    overall.set_title("Overall")
    overall.legend(fontsize=8, loc="upper center", ncol=len(names), frameon=False)
    ticks = [k * 2 + j for k in range(len(LANGUAGES)) for j in range(2)]
    by_lang.set_xticks(ticks, [f"{lang}\n{m}" for lang in LANGUAGES for m in ("hit@1", "acc")], fontsize=9)
    by_lang.set_ylim(0, 1.12)
    by_lang.set_title("By question language (solid: hit@1, hatched: answer accuracy)")
    first = reports[0] if reports else {}
    corpora = ", ".join(Path(c).name for c in first.get("corpora", []))
    fig.suptitle(f"Bilim Assistant evaluation — split {first.get('split', 'all')}, corpora: {corpora}", fontsize=11)
    fig.tight_layout()
    target.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(target, dpi=110)
    plt.close(fig)
