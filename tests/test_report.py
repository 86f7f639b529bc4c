"""`glot report`: one self-contained HTML file, checked as HTML and rendered in a real headless Chromium."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from glotforge.pipelines.cli import main
from glotforge.pipelines.report import write_report

from stats_fixtures import write_contract_out

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("rep") / "OUT"
    return out, write_contract_out(out)


@pytest.fixture(scope="module")
def chromium() -> str:
    """Path of Debian's chromium; installed by tools/install_chromium.sh when missing (root only)."""
    if shutil.which("chromium") is None:
        subprocess.run(["bash", str(REPO / "tools" / "install_chromium.sh")], check=False, timeout=900)
    path = shutil.which("chromium")
    if path is None:
        pytest.skip("chromium is not installed and tools/install_chromium.sh could not install it (needs root + apt)")
    pytest.importorskip("playwright.sync_api", reason="the playwright python package is not installed")
    return path


def test_html_is_self_contained(built, tmp_path):
    out, expected = built
    fert = tmp_path / "vocab_report.json"  # the shape train/fertility.py writes
    fert.write_text(json.dumps({
        "tokenizers": {"before": "xlmr", "after": "extended"}, "source": str(out),
        "labels": [{"label": "eng_Latn", "changed_lines": 0.1, "before": {"tokens_per_unit": 1.4, "unk_rate": 0.0},
                    "after": {"tokens_per_unit": 1.3, "unk_rate": 0.0}},
                   {"label": "aar_Latn", "changed_lines": 0.8, "before": {"tokens_per_unit": 2.9, "unk_rate": 0.01},
                    "after": {"tokens_per_unit": 1.6, "unk_rate": 0.0}}],
        "summary": {"labels": 2, "median_tokens_per_unit_ratio": 0.72}}))
    ev = tmp_path / "eval.json"
    ev.write_text(json.dumps({"tatoeba_top10": {"eng_Latn": 1.0}, "pseudo_perplexity": 12.2}))
    res = CliRunner().invoke(main, ["report", str(out), "--extra", str(fert), "--extra", str(ev)])
    assert res.exit_code == 0, res.output
    html = (out / "report.html").read_text()
    # nothing to fetch: no external src/href, no @import, no url(); the only URL is the SVG namespace
    assert not re.search(r'(src|href)\s*=\s*["\']?(https?:)?//', html)
    assert "@import" not in html and "url(" not in html
    assert set(re.findall(r"https?://[^\s\"'<>]+", html)) <= {"http://www.w3.org/2000/svg"}
    for cls in ("chart-sizes", "chart-scripts", "chart-reasons", "chart-tiers", "chart-audit"):
        assert f'class="chart {cls}"' in html
    assert html.count('<tr class="head"') + html.count('<tr class="tail"') == len(expected)
    assert 'id="extra-fertility"' in html and "after.tokens_per_unit" in html and 'id="extra-eval"' in html
    assert "median_tokens_per_unit_ratio 0.72" in html
    assert 'id="extra-dedup"' in html and 'id="extra-quality"' in html and 'id="extra-dedup-clusters"' in html
    assert "example text of" in html  # the largest duplicate clusters, with their kept line


def test_report_without_audit_and_mismatch(tmp_path):
    out = tmp_path / "OUT"
    write_contract_out(out, labels=["eng_Latn", "fra_Latn", "tha_Thai"], extras=False)
    html = write_report(out).read_text()
    assert 'id="no-audit"' in html and "did not run" in html
    (out / "corpus" / "tha_Thai" / "part-00000.parquet").unlink()
    res = CliRunner().invoke(main, ["report", str(out), "-o", str(tmp_path / "r.html")])
    assert res.exit_code == 1 and "mismatch" in res.output and not (tmp_path / "r.html").exists()


def test_report_renders_in_chromium(built, chromium, tmp_path):
    from playwright.sync_api import sync_playwright

    out, expected = built
    path = write_report(out, tmp_path / "report.html")
    requests: list[str] = []
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.on("request", lambda r: requests.append(r.url))
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(path.as_uri())
        page.wait_for_selector("html[data-report-ready='1']")
        assert errors == [] and [u for u in requests if not u.startswith("file:")] == []
        # charts are drawn with a real size and one bar per label with text
        for cls in ("chart-sizes", "chart-scripts", "chart-reasons", "chart-tiers", "chart-audit"):
            box = page.locator(f"svg.{cls}").bounding_box()
            assert box and box["width"] > 500 and box["height"] > 20, cls
        assert page.locator("svg.chart-sizes rect.bar").count() == len(expected)
        assert page.locator("svg.chart-audit rect.bar").count() == 20
        segments = set(page.locator("svg.chart-reasons rect.segment").evaluate_all(
            "els => els.map(e => e.dataset.segment)"))
        assert segments == {"quality:too_short", "dedup:exact", "langid:mismatch"}
        # the table sorts on a click and filters on typing
        rows = page.locator("#label-table tbody tr")
        assert rows.count() == len(expected)
        chars = sorted(e["chars"] for e in expected.values())
        page.click("#label-table th:has-text('characters')")  # numbers: largest first
        first = page.locator("#label-table tbody tr").first.get_attribute("data-label")
        assert expected[first]["chars"] == chars[-1]
        assert page.locator("#label-table th:has-text('characters')").get_attribute("aria-sort") == "descending"
        page.click("#label-table th:has-text('characters')")  # again: smallest first
        first = page.locator("#label-table tbody tr").first.get_attribute("data-label")
        assert expected[first]["chars"] == chars[0]
        page.click("#label-table th:text-is('label')")
        shown = page.locator("#label-table tbody tr").evaluate_all("rs => rs.map(r => r.dataset.label)")
        assert shown == sorted(expected)
        page.fill("input[data-filter='label-table']", "Cyrl")
        visible = page.locator("#label-table tbody tr:visible").count()
        assert visible == sum(1 for k in expected if k.endswith("_Cyrl"))
        assert page.locator("#label-table-count").inner_text() == f"{visible} rows"
        page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        browser.close()
    assert (tmp_path / "report.png").stat().st_size > 20_000
