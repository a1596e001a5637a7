"""Which images in an email report that it was read: ours, shared by the parser (which records
the fact on the message) and the renderer (which never loads them)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

# Ours: hosts (and optional path prefixes) whose images are open-tracking pixels. A host also
# matches its subdomains. The renderer blocks the same images, so keep this list the only one.
KNOWN_TRACKERS = (
    "mailtrack.io",
    "mandrillapp.com/track",
    "list-manage.com/track",
    "sendgrid.net/wf/open",
    "hubspotlinks.com",
    "hubspotemail.net",
    "mixpanel.com/track",
    "google-analytics.com/collect",
    "awstrack.me",  # Amazon SES
    "rs6.net/on.jsp",  # Constant Contact
    "exct.net/open.aspx",  # Salesforce Marketing Cloud
    "mjt.lu/oo",  # Mailjet
    "yesware.com",
    "getnotify.com",
    "bananatag.com",
    "mailfoogae.appspot.com",  # Streak
)
# First host labels that only serve pixels (pixel.example.com).
TRACKER_HOST_LABELS = frozenset({"pixel", "pixels"})

_PIXELS = re.compile(r"\s*(\d+(?:\.\d+)?)(?:px)?\s*$", re.IGNORECASE)
_STYLE_SIZE = re.compile(r"(?<![-\w])(width|height)\s*:\s*(\d+(?:\.\d+)?)(?:px)?\b", re.IGNORECASE)
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)


def is_tracking_image(attributes: dict[str, str]) -> bool:
    """One <img> (its attributes, lower-cased names, unescaped values): does it report the read?"""
    src = attributes.get("src", "").strip()
    if not src.lower().startswith(("http:", "https:", "//")):
        return False  # cid: and data: images load nothing from the sender
    style = attributes.get("style", "")
    if _HIDDEN_STYLE.search(style):
        return True
    sizes = {key.lower(): float(value) for key, value in _STYLE_SIZE.findall(style)}
    for key in ("width", "height"):
        match = _PIXELS.match(attributes.get(key, ""))
        if key not in sizes and match:
            sizes[key] = float(match.group(1))
    if sizes and all(size <= 1 for size in sizes.values()):
        return True
    try:
        url = urlsplit(src if not src.startswith("//") else f"https:{src}")
        host = (url.hostname or "").lower()
    except ValueError:
        return False
    if host.split(".", 1)[0] in TRACKER_HOST_LABELS:
        return True
    return any(_matches_tracker(host, url.path, tracker) for tracker in KNOWN_TRACKERS)


def _matches_tracker(host: str, path: str, tracker: str) -> bool:
    tracker_host, slash, tracker_path = tracker.partition("/")
    return (host == tracker_host or host.endswith(f".{tracker_host}")) and path.startswith(slash + tracker_path)
