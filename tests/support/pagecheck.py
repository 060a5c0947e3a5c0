"""What every page of both apps must get right, measured on the page as Chromium rendered it.

The page crawl (tests/system/test_page_crawl.py) runs these on every page it reaches, and the focus test
(tests/system/test_focus_visible.py) tabs through pages with ``focus_stops``. Each check returns a list of
``Problem``s rather than asserting, so one run reports everything wrong at once: page → problem → offending text.

The figures come from the house rules and issues 19 and 26: no English word, raw state key or Python repr on a
Chinese page; no field label shown as its own value; no table cell that breaks a date, a code, a short word or a
state over two lines at 1024×768; no page that scrolls sideways at 1024×768 or 512×384; headings that do not skip
levels; a header on every table column; no asset from another origin; no WCAG 2.0/2.1 A or AA violation that
axe-core finds; a focus outline at 3:1 or better against what surrounds it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

# axe-core's rule tags for WCAG 2.0 and 2.1, levels A and AA.
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
# WCAG 1.4.11: a focus indicator needs 3:1 against the colours next to it.
FOCUS_CONTRAST = 3.0

# Latin words a Chinese page may show: units, file kinds and well-known abbreviations a clerk reads as they are.
ALLOWED_WORDS = {
    "PDF", "ID", "USB", "CSV", "QR", "KB", "MB", "GB", "JPEG", "JPG", "PNG", "TIFF", "URL", "IT", "Excel", "WPS",
    "HPKE", "kbit", "ms",
}
# Tokens of Latin letters (and the punctuation codes use inside them).
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_\-.]*[A-Za-z0-9_]|[A-Za-z]")
_FILE_NAME = re.compile(r"[\w\-.]+\.(?:png|jpe?g|tiff?|pdf|json|csv)", re.IGNORECASE)
_URL = re.compile(r"https?://\S+|\b[\w.+-]+@[\w.-]+")
_REPRS = re.compile(r"<built-in[^>]*>?|<[\w.]+ object at 0x[0-9a-f]+>?|object at 0x[0-9a-f]+|\{'[^}]{0,40}|"
                    # Whole words by Latin letters only: Python's \b sees no edge between 状态 and None.
                    r"(?<![A-Za-z])(?:None|True|False)(?![A-Za-z])|<function [^>]*>?|\[\]|\{\}")


@dataclass(frozen=True)
class Problem:
    url: str
    kind: str
    detail: str

    def __str__(self) -> str:
        return f"{self.url}\n    {self.kind}: {self.detail}"


def report(problems: list[Problem]) -> str:
    """All problems, grouped by page, one line each."""
    lines: list[str] = []
    by_url: dict[str, list[Problem]] = {}
    for problem in problems:
        by_url.setdefault(problem.url, []).append(problem)
    for url, found in by_url.items():
        lines.append(url)
        lines.extend(f"    {p.kind}: {p.detail}" for p in found)
    return "\n".join(lines)


@cache
def state_keys() -> frozenset[str]:
    """Every stored state, outcome and decision value of both apps, from the tables that give them words (a key
    without words would show raw anyway) and the enums and constants that define them."""
    from hub.core.outcome import Fate
    from hub.reconcile.arrival import CONFLICT_KINDS
    from hub.web.cases import STATUS_TEXT
    from pointkit import i18n as point_words
    from pointkit.models import OUTBOX_STATES

    keys: set[str] = set(STATUS_TEXT) | set(CONFLICT_KINDS) | {fate.value for fate in Fate} | set(OUTBOX_STATES)
    for table in (point_words.STATUS_LABELS, point_words.HUB_STATUS_LABELS, point_words.STAGE_LABELS,
                  point_words.DECISION_LABELS, point_words.OUTCOME_LABELS, point_words.ROUTE_LABELS,
                  point_words.MATERIAL_FORMS):
        keys |= set(table)
    return frozenset(keys)


def text_problems(url: str, text: str, allowed: set[str] = frozenset()) -> list[Problem]:
    """English words, raw state keys and Python reprs in a Chinese page's visible text."""
    problems: list[Problem] = []
    for match in _REPRS.finditer(text):
        problems.append(Problem(url, "Python repr", f"{match.group(0)!r} in {_around(text, match)}"))
    # A repr is reported once, not again word by word.
    cleaned = _REPRS.sub(" ", _URL.sub(" ", text))
    seen: set[str] = set()
    for match in _WORD.finditer(cleaned):
        word = match.group(0)
        if word in seen or _allowed_word(word, allowed):
            continue
        seen.add(word)
        kind = "raw state key" if word in state_keys() else "English word"
        problems.append(Problem(url, kind, f"{word!r} in {_around(cleaned, match)}"))
    return problems


def _allowed_word(word: str, allowed: set[str]) -> bool:
    if word in ALLOWED_WORDS or word in allowed or word.upper() in ALLOWED_WORDS and len(word) <= 4:
        return True
    if word in state_keys():
        return False
    # Codes and ids carry digits (451030-YB-001, YB-2026-000123, 9f3c1a2b); short capitals are codes (YB, RS); a
    # file's name is what someone called it (a scan, a catalog file).
    return (any(ch.isdigit() for ch in word) or (word.isupper() and len(word) <= 3)
            or _FILE_NAME.fullmatch(word) is not None)


def _around(text: str, match: re.Match, width: int = 30) -> str:
    start, end = max(0, match.start() - width), min(len(text), match.end() + width)
    return "«" + " ".join(text[start:end].split()) + "»"


# One pass over the rendered page: visible text without the language switch, cells that wrap, headings, table
# headers, assets from elsewhere, sideways scrolling, the title.
_MEASURE = r"""
() => {
  const switches = [...document.querySelectorAll('#lang-switch, [lang="en"], [hreflang="en"]')];
  const hidden = switches.map(el => [el, el.style.display]);
  switches.forEach(el => { el.style.display = 'none'; });
  const text = document.body.innerText;
  hidden.forEach(([el, display]) => { el.style.display = display; });

  const lines = (el) => {
    const range = document.createRange();
    range.selectNodeContents(el);
    const rects = [...range.getClientRects()].filter(r => r.width > 0 && r.height > 0).sort((a, b) => a.top - b.top);
    if (!rects.length) return 0;
    let count = 1, bottom = rects[0].bottom;
    for (const r of rects.slice(1)) {
      if (r.top >= bottom - 2) { count += 1; bottom = r.bottom; } else { bottom = Math.max(bottom, r.bottom); }
    }
    return count;
  };
  const wrapped = [];
  for (const cell of document.querySelectorAll('td, th')) {
    if (!cell.offsetParent) continue;
    const words = cell.innerText.trim();
    if (!words || words.includes('\n')) continue;
    // Text only for screen readers (a visually hidden column header) has no lines to wrap.
    if (cell.getBoundingClientRect().width > 1 && [...cell.querySelectorAll('.visually-hidden')]
        .some(el => el.innerText.trim() === words)) continue;
    // A date, a receipt number or another code (no spaces, digits in it) is read as one piece.
    const piece = /^\d{4}-\d{2}-\d{2}/.test(words) || /^(?=.*\d)[\w\-\/:.]+$/.test(words);
    if ((words.length <= 12 || piece) && lines(cell) > 1) wrapped.push(words);
  }

  // A field's label shown as a value in the same table or list (县中心状态 as the state itself).
  const labelled = new Set();
  for (const group of document.querySelectorAll('table, dl')) {
    const labels = new Set([...group.querySelectorAll('th, dt')].map(el => el.innerText.trim()).filter(Boolean));
    group.querySelectorAll('td, dd').forEach(el => { if (labels.has(el.innerText.trim())) labelled.add(el.innerText.trim()); });
  }

  const headings = [...document.querySelectorAll('h1, h2, h3, h4, h5, h6')]
    .filter(h => h.offsetParent || h.getClientRects().length).map(h => [Number(h.tagName[1]), h.innerText.trim()]);

  const headerless = [];
  for (const table of document.querySelectorAll('table')) {
    const first = table.rows[0];
    if (!first || ![...first.cells].every(c => c.tagName === 'TH')) continue;
    const label = (c) => (c.textContent.trim() || c.getAttribute('aria-label') || '').trim();
    const empty = [...first.cells].filter(c => !label(c)).length;
    const width = Math.max(...[...table.rows].map(r => [...r.cells].reduce((n, c) => n + c.colSpan, 0)));
    const headed = [...first.cells].reduce((n, c) => n + c.colSpan, 0);
    if (empty || width > headed) {
      headerless.push(`${table.id ? '#' + table.id : 'table'} (${first.innerText.replace(/\s+/g, ' ').trim().slice(0, 60)})`);
    }
  }

  const origin = location.origin;
  const foreign = new Set();
  const check = (value) => {
    if (!value || value.startsWith('data:') || value.startsWith('#') || value.startsWith('javascript:')) return;
    try { if (new URL(value, location.href).origin !== origin) foreign.add(value); } catch (e) { foreign.add(value); }
  };
  document.querySelectorAll('[src]').forEach(el => check(el.getAttribute('src')));
  document.querySelectorAll('link[href], a[href], form[action]').forEach(el => check(el.getAttribute(el.tagName === 'FORM' ? 'action' : 'href')));
  performance.getEntriesByType('resource').forEach(e => check(e.name));

  return {
    text, wrapped, headings, headerless, labelled: [...labelled], foreign: [...foreign], title: document.title,
    scroll_width: document.documentElement.scrollWidth, view_width: document.documentElement.clientWidth,
  };
}
"""


def measure(page) -> dict:
    """The rendered page's text and layout facts (see _MEASURE), once the page on screen has loaded: a click that
    navigates returns as soon as the new document commits, before its body exists."""
    page.wait_for_load_state("load")
    return page.evaluate(_MEASURE)


def layout_problems(url: str, measured: dict) -> list[Problem]:
    """Wrapped short cells, skipped heading levels, columns without a header, foreign assets, sideways scroll."""
    shapes: dict[str, list[str]] = {}
    for words in measured["wrapped"]:
        shapes.setdefault(shape(words), []).append(words)
    problems = [Problem(url, "cell wraps at 1024×768", repr(same[0]) + (f" (and {len(same) - 1} more like it)"
                                                                        if len(same) > 1 else ""))
                for same in shapes.values()]
    previous = 0
    for level, words in measured["headings"]:
        if previous == 0 and level != 1:
            problems.append(Problem(url, "heading level skipped", f"first heading is h{level} {words!r}"))
        elif previous and level > previous + 1:
            problems.append(Problem(url, "heading level skipped", f"h{previous} → h{level} {words!r}"))
        previous = level
    problems += [Problem(url, "table column without a header", table) for table in measured["headerless"]]
    problems += [Problem(url, "a label shown as a value", repr(words)) for words in measured["labelled"]]
    problems += [Problem(url, "asset or link from another origin", value) for value in measured["foreign"]]
    problems += scroll_problems(url, measured, "1024×768")
    if not measured["title"].strip():
        problems.append(Problem(url, "no title", ""))
    return problems


def shape(words: str) -> str:
    """Dates, times, receipt numbers and item codes of one form have one shape: every digit a 0, every capital an A."""
    return re.sub(r"[A-Z]", "A", re.sub(r"\d", "0", words))


def scroll_problems(url: str, measured: dict, viewport: str) -> list[Problem]:
    if measured["scroll_width"] > measured["view_width"] + 1:
        return [Problem(url, f"scrolls sideways at {viewport}",
                        f"page is {measured['scroll_width']} px wide in a {measured['view_width']} px viewport")]
    return []


def page_width(page) -> dict:
    return page.evaluate("() => ({scroll_width: document.documentElement.scrollWidth, "
                         "view_width: document.documentElement.clientWidth})")


@cache
def _axe():
    from axe_playwright_python.sync_playwright import Axe

    return Axe()


def axe_problems(url: str, page) -> list[Problem]:
    """axe-core's WCAG 2.0/2.1 A and AA violations on the page, one problem per rule with the elements it hit."""
    results = _axe().run(page, options={"runOnly": {"type": "tag", "values": AXE_TAGS},
                                        "resultTypes": ["violations"]})
    problems = []
    for violation in results.response["violations"]:
        targets = ", ".join(" ".join(map(str, node["target"])) for node in violation["nodes"][:5])
        more = len(violation["nodes"]) - 5
        problems.append(Problem(url, f"axe {violation['id']} ({violation['impact']})",
                                f"{violation['help']}: {targets}" + (f" and {more} more" if more > 0 else "")))
    return problems


# The focused element's outline colour and the background behind it: the first opaque background among its
# ancestors (the outline is drawn outside the element, over its parent), composited over white.
_FOCUS = r"""
() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const style = getComputedStyle(el);
  const parse = (c) => { const m = c.match(/rgba?\(([^)]+)\)/); if (!m) return null;
    const p = m[1].split(/[ ,/]+/).filter(Boolean).map(Number); return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1]; };
  let behind = [255, 255, 255];
  for (let node = el.parentElement; node; node = node.parentElement) {
    const bg = parse(getComputedStyle(node).backgroundColor);
    if (bg && bg[3] > 0.5) { behind = bg.slice(0, 3); break; }
  }
  const shadows = (style.boxShadow.match(/rgba?\([^)]+\)/g) || []).map(parse).filter(c => c && c[3] > 0.5).map(c => c.slice(0, 3));
  const outline = style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2 ? parse(style.outlineColor) : null;
  const label = (el.innerText || el.value || el.getAttribute('aria-label') || el.name || '').trim().replace(/\s+/g, ' ').slice(0, 30);
  return {tag: el.tagName.toLowerCase() + (el.id ? '#' + el.id : ''), label,
          outline: outline && outline[3] > 0.5 ? outline.slice(0, 3) : null, outline_width: parseFloat(style.outlineWidth),
          shadows, behind};
}
"""


def contrast(first: list[float], second: list[float]) -> float:
    """WCAG's contrast ratio of two sRGB colours (0-255 channels)."""
    def luminance(rgb: list[float]) -> float:
        channels = [c / 255 for c in rgb]
        linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    lighter, darker = sorted((luminance(first), luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def focus_stops(page, limit: int = 200) -> list[dict]:
    """Tab from the top of the page through every focus stop (until focus comes back round or ``limit``), with each
    stop's outline colour and the background behind it."""
    page.evaluate("() => { document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0); }")
    stops: list[dict] = []
    seen: set[str] = set()
    for _ in range(limit):
        page.keyboard.press("Tab")
        stop = page.evaluate(_FOCUS)
        if stop is None:
            break
        key = page.evaluate("() => { const el = document.activeElement; const path = [];"
                            " for (let n = el; n; n = n.parentElement) path.unshift(n.tagName + ':' +"
                            " [...(n.parentElement ? n.parentElement.children : [])].indexOf(n)); return path.join('/'); }")
        if key in seen:
            break
        seen.add(key)
        stops.append(stop)
    return stops


def focus_problems(url: str, stops: list[dict]) -> list[Problem]:
    """Stops whose focus indicator (outline, or a box-shadow ring) is below 3:1 against the background behind."""
    problems = []
    for stop in stops:
        rings = ([stop["outline"]] if stop["outline"] else []) + stop["shadows"]
        best = max((contrast(ring, stop["behind"]) for ring in rings), default=0.0)
        if best < FOCUS_CONTRAST:
            shown = f"outline {stop['outline']}" if stop["outline"] else "no outline"
            problems.append(Problem(url, "focus indicator below 3:1",
                                    f"{stop['tag']} {stop['label']!r}: {shown} on {stop['behind']} = {best:.2f}:1"))
    return problems
