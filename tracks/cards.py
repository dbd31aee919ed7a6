"""The cards of a library page, worked out in Python before the template prints them.

The library is the page people load most (bench/load.py). Rendered from the models, a card
cost about 1.3 ms on the reference machine, most of the page: six `{% url %}`s, the full
player's template with its branches for the compact one, some sixty lookups through track,
job and parts, and every stored file of the track made into a model. A `Card` holds the
card's URLs, ready; `tracks/_row.html` prints them, with the job's status from
`separation/_job_status.html`.
"""

import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.dates import MONTHS_3

from catalog.stems import JAM_TRACK, Stem, get_stem
from tracks.access import Access
from tracks.models import ORIGINAL_PART, Asset, Track

Kind = Asset.Kind

# The stored files a card shows: the jam track and its peaks (the compact player) or, before
# separation, the original's waveform picture. Not the other stems, waveforms or exports.
CARD_FILES = Q(kind__in=(Kind.STEM, Kind.PEAKS), stem=JAM_TRACK) | Q(kind=Kind.WAVEFORM, stem="")


@dataclass(frozen=True, slots=True)
class Card:
    track: Track
    access: Access
    detail_url: str
    row_url: str  # the card alone, fetched again when its job changes state
    # The compact player's stem: the jam track, once separated; else None.
    jam: Stem | None = None
    audio_url: str = ""
    peaks_url: str = ""  # "" when the jam track has no peaks (separated long ago)
    download_url: str = ""  # "" for someone who may play it but not download it
    # Before separation: the original's waveform picture, for those who may hear it.
    waveform_url: str = ""

    @property
    def duration_attr(self) -> str:
        return f"{self.track.duration_s:.3f}"

    @property
    def duration_whole(self) -> int:
        return int(self.track.duration_s + 0.5)

    # The upload time as `|date:"c"` and `|date:"j M Y, H:i"` print it in the current time
    # zone, written out: the two filters were a third of a card's rendering.
    @property
    def uploaded_iso(self) -> str:
        return timezone.localtime(self.track.created_at).isoformat()

    @property
    def uploaded_label(self) -> str:
        at = timezone.localtime(self.track.created_at)
        month = str(MONTHS_3[at.month]).title()
        return f"{at.day} {month} {at.year:04d}, {at.hour:02d}:{at.minute:02d}"


class _Urls:
    """`reverse()` once for each URL name on a page; a track's URL is the same string with
    its id in it (`reverse` costs as much as the rest of a card's values together)."""

    PLACEHOLDER = str(uuid.UUID(int=0))

    def __init__(self):
        self.patterns: dict[tuple, str] = {}

    def __call__(self, name: str, track: Track, *args) -> str:
        pattern = self.patterns.get((name, *args))
        if pattern is None:
            pattern = reverse(name, args=[self.PLACEHOLDER, *args])
            self.patterns[(name, *args)] = pattern
        return pattern.replace(self.PLACEHOLDER, str(track.id))


def library_cards(rows: Iterable[tuple[Track, Access]]) -> list[Card]:
    """The cards of tracks with what the viewer may do with each (`track_access_many`), in
    one query for the files they show."""
    rows = list(rows)
    stored = defaultdict(set)
    found = Asset.objects.filter(CARD_FILES, track__in=[track.id for track, _ in rows])
    for track_id, kind, stem in found.values_list("track_id", "kind", "stem"):
        stored[track_id].add((kind, stem))
    url = _Urls()
    cards = []
    for track, access in rows:
        have = stored[track.id]
        fields = {
            "detail_url": url("tracks:detail", track),
            "row_url": url("tracks:row", track),
        }
        if (Kind.STEM, JAM_TRACK) in have:
            fields |= {
                "jam": get_stem(JAM_TRACK),
                "audio_url": url("tracks:audio", track, JAM_TRACK),
            }
            if access.can_download_part(JAM_TRACK):
                fields["download_url"] = url("tracks:download", track, JAM_TRACK)
            if (Kind.PEAKS, JAM_TRACK) in have:
                fields["peaks_url"] = url("tracks:peaks", track, JAM_TRACK)
        elif (Kind.WAVEFORM, "") in have and access.hears_all:
            fields["waveform_url"] = url("tracks:waveform", track, ORIGINAL_PART)
        cards.append(Card(track=track, access=access, **fields))
    return cards
