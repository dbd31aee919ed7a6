"""`{% export_panel %}`: the track page's Export section. Loaded by name from the track
template, so `tracks` (below this app) never imports it."""

from django import template

from catalog.exports import SEMITONE_RANGE
from catalog.formats import EXPORT_FORMATS, PLAYER_FORMAT
from catalog.stems import JAM_TRACK, STEMS
from practice.selectors import renders_of
from tracks.access import downloadable_parts
from tracks.files import STEM_EXTENSION

register = template.Library()

# (value sent, what people read): the vocals from none (the jam track) to the full original.
BALANCES = [
    ("0", "None"),
    ("0.1", "10 % (a guide)"),
    ("0.25", "25 %"),
    ("0.5", "50 %"),
    ("1", "100 % (original)"),
]
TEMPOS = [50, 60, 70, 75, 80, 85, 90, 95, 100, 105, 110, 120, 125, 150]


@register.simple_tag
def player_export_formats():
    """`{% player_export_formats as formats %}`: (format, chosen) for the player's "Download
    this mix", every export format in display order with `PLAYER_FORMAT` chosen."""
    return [(fmt, fmt.name == PLAYER_FORMAT) for fmt in EXPORT_FORMATS]


@register.inclusion_tag("practice/_exports.html", takes_context=True)
def export_panel(context, track, access):
    request = context["request"]
    stems = downloadable_parts(track, access)
    hears_vocals = access.can_export_all(stem.name for stem in STEMS if stem.name != JAM_TRACK)
    return {
        "request": request,
        "csrf_token": context.get("csrf_token"),
        "track": track,
        "separated": any(part.name == JAM_TRACK for part in stems),
        "stems": stems,
        "hears_vocals": hears_vocals,
        "balances": BALANCES,
        "tempos": [(f"{tempo / 100:g}", f"{tempo} %") for tempo in TEMPOS],
        "semitones": [
            (str(step), f"{step:+d}" if step else "0 (as recorded)")
            for step in range(SEMITONE_RANGE[0], SEMITONE_RANGE[1] + 1)
        ],
        "formats": EXPORT_FORMATS,
        # A stem is downloaded as stored (WAV) or exported in any other format.
        "stem_formats": [fmt for fmt in EXPORT_FORMATS if fmt.extension != STEM_EXTENSION],
        "renders": renders_of(track, request.user, access),
        "sees_all": access.can_manage,
    }
