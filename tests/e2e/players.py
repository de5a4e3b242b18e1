"""What a reader's browser makes of our players, measured the same way in every context.

Lab, a reopened untrusted notebook and an nbconvert page opened from file:// all get the same
report per `video.kodisc-video` (videos inside the account panel excluded): whether the video
loaded, whether its poster decodes, how many caption cues its track has, and whether the one-line
"captions are off" hint is visible.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat

REPORT_JS = """async () => {
  const videos = Array.from(document.querySelectorAll('video.kodisc-video'))
    .filter(v => !v.closest('.kodisc-panel'));
  const decode = src => new Promise(resolve => {
    if (!src) { resolve(0); return; }
    const image = new Image();
    image.onload = () => resolve(image.naturalWidth);
    image.onerror = () => resolve(0);
    image.src = src;
  });
  const cells = Array.from(document.querySelectorAll('.jp-Cell'));
  const visible = el => !!el && el.getClientRects().length > 0
    && getComputedStyle(el).visibility !== 'hidden';
  return Promise.all(videos.map(async v => {
    const player = v.closest('.kodisc-player') || v.parentElement;
    const track = v.textTracks.length ? v.textTracks[0] : null;
    const summary = player.querySelector('.kodisc-summary');
    return {
      cell: cells.indexOf(v.closest('.jp-Cell')),
      label: v.getAttribute('aria-label'),
      src: v.getAttribute('src') || '',
      readyState: v.readyState,
      videoWidth: v.videoWidth,
      error: v.error ? v.error.code : null,
      poster: (v.getAttribute('poster') || '').slice(0, 40),
      posterWidth: await decode(v.getAttribute('poster')),
      trackMode: track ? track.mode : null,
      cues: track && track.cues ? track.cues.length : 0,
      hintVisible: visible(player.querySelector('.kodisc-untrusted-hint')),
      summary: summary ? summary.textContent : null,
    };
  }));
}"""

PLAY_JS = """async () => {
  const videos = Array.from(document.querySelectorAll('video.kodisc-video'))
    .filter(v => !v.closest('.kodisc-panel'));
  const cells = Array.from(document.querySelectorAll('.jp-Cell'));
  const results = [];
  for (const v of videos) {
    const cell = cells.indexOf(v.closest('.jp-Cell'));
    v.muted = true;
    try {
      await v.play();
      await new Promise(resolve => setTimeout(resolve, 700));
      results.push({cell, currentTime: v.currentTime, error: null});
      v.pause();
    } catch (e) {
      results.push({cell, currentTime: 0, error: String(e)});
    }
  }
  return results;
}"""


@dataclass(frozen=True)
class Scene:
    """A `%%kodisc` cell: its index among the notebook's cells (the DOM's `.jp-Cell`s in Lab and in
    nbconvert's page: an untrusted output loses `aria-label`, so players are found by cell), its
    class, and whether it makes captions (subcaptions)."""

    cell: int
    class_name: str
    captioned: bool


def scenes_of(notebook_path: Path) -> list[Scene]:
    """The scenes a notebook renders, read from its `%%kodisc` cells (the class defined in each)."""
    scenes = []
    for index, cell in enumerate(nbformat.read(notebook_path, as_version=4).cells):
        source = cell.source
        if cell.cell_type != "code" or not re.match(r"\s*%%kodisc(\s|$)", source):
            continue  # not a render (%%kodisc_prelude does not match: no space after the name)
        match = re.search(r"^class\s+(\w+)\s*\(", source, re.MULTILINE)
        if match:
            scenes.append(Scene(index, match.group(1), "subcaption" in source))
    return scenes


def report(page) -> list[dict]:
    return page.evaluate(REPORT_JS)


def wait_for_players(page, scenes: list[Scene], *, captions_or_hint: bool = False,
                     timeout: float = 60) -> dict[int, list[dict]]:
    """Sample until every scene's videos have loaded their metadata and (if captioned) cues or, when
    `captions_or_hint`, a visible hint; returns the last report by cell for the test to assert on."""
    deadline = time.monotonic() + timeout
    while True:
        by_cell: dict[int, list[dict]] = {}
        for entry in report(page):
            by_cell.setdefault(entry["cell"], []).append(entry)
        ready = all(scene.cell in by_cell and all(_ready(entry, scene, captions_or_hint)
                                                  for entry in by_cell[scene.cell])
                    for scene in scenes)
        if ready or time.monotonic() > deadline:
            return by_cell
        time.sleep(0.25)


def _ready(entry: dict, scene: Scene, captions_or_hint: bool) -> bool:
    if entry["readyState"] < 1 or entry["videoWidth"] == 0 or entry["posterWidth"] == 0:
        return False
    if not scene.captioned:
        return True
    return entry["cues"] > 0 or (captions_or_hint and entry["hintVisible"])


def assert_players(by_cell: dict[int, list[dict]], scenes: list[Scene], *, captions_or_hint: bool = False) -> None:
    """Each scene's video loaded (metadata, size), has a poster that decodes, and captions where due."""
    for scene in scenes:
        entries = by_cell.get(scene.cell)
        assert entries and len(entries) == 1, \
            f"expected one player in the cell of {scene.class_name}, found {entries}; all: {sorted(by_cell)}"
        for entry in entries:
            _assert_player(entry, scene, captions_or_hint)


def _assert_player(entry: dict, scene: Scene, captions_or_hint: bool) -> None:
    name = scene.class_name
    assert entry["error"] is None, f"{name}: media error {entry['error']} for {entry['src'][:80]}"
    assert entry["readyState"] >= 1 and entry["videoWidth"] > 0, f"{name} did not load: {entry}"
    assert entry["posterWidth"] > 0, f"{name}: poster missing or not decodable: {entry['poster']!r}"
    if scene.captioned and captions_or_hint:
        assert entry["cues"] > 0 or entry["hintVisible"], \
            f"{name}: neither captions nor the untrusted hint are shown: {entry}"
    elif scene.captioned:
        assert entry["cues"] > 0, f"{name}: its captions track has no cues: {entry}"
        assert not entry["hintVisible"], f"{name}: captions work, yet the hint shows: {entry}"


def assert_videos_play(page, scenes: list[Scene]) -> None:
    """Play every video muted for 0.7 s: time must advance (the bytes really decode)."""
    played = page.evaluate(PLAY_JS)
    for scene in scenes:
        entries = [entry for entry in played if entry["cell"] == scene.cell]
        assert entries, f"no player for {scene.class_name}"
        for entry in entries:
            assert entry["error"] is None and entry["currentTime"] > 0, f"{scene.class_name} does not play: {entry}"


SERVER_URL_RE = re.compile(r"127\.0\.0\.1:\d+")
KEY_RE = re.compile(r"kdsc_live_[0-9a-f]{48}")


# the HTML player's attribute, and the same URL in our renderer's JSON
FALLBACK_RE = re.compile(r'data-kodisc-fallback=\\?"[^"\\]*\\?"|"fallback": "[^"]*"')


def assert_portable(notebook_path: Path) -> None:
    """A saved notebook must not depend on the embedded server's random port, nor hold a key.

    A Kodisc render's player also names the job's public URL as its fallback (used only when the
    media folder did not travel): with a local server standing in for Kodisc, that URL is on
    127.0.0.1, and it is the one place a server URL may stand.
    """
    text = FALLBACK_RE.sub("", notebook_path.read_text(encoding="utf-8"))
    assert not SERVER_URL_RE.search(text), \
        f"{notebook_path.name} references the embedded server: {SERVER_URL_RE.search(text).group(0)}"
    assert not KEY_RE.search(text), f"{notebook_path.name} contains a Kodisc API key"
